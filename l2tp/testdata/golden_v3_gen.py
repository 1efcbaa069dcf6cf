# Assembles golden L2TPv3 control messages field by field from RFC 3931
# (section 3.2.1 header, section 5.1 AVP header, section 5.3 hiding with the
# derived shared key, section 5.4 values, section 6 messages, section 5.4.1
# Message Digest with the derived authentication key and both nonces) and
# writes them as the Go file ../v3golden_test.go, one comment per field.
# Independent of the Go code under test: python3 testdata/golden_v3_gen.py
import hashlib, hmac, struct, os

SECRET = b"s3cret"
NONCE_A = bytes(range(0x10, 0x20))  # LCCE A (sends the SCCRQ)
NONCE_B = bytes(range(0x20, 0x30))  # LCCE B
RV = bytes(range(16))

HIDE_KEY = hmac.new(SECRET, b"\x01", hashlib.md5).digest()  # section 5.3
AUTH_KEY = hmac.new(SECRET, b"\x02", hashlib.md5).digest()  # section 5.4.1

def u16(v): return struct.pack(">H", v)
def u32(v): return struct.pack(">I", v)
def u64(v): return struct.pack(">Q", v)

def hide(t, value):
    s = u16(len(value)) + value
    out = b""
    h = hashlib.md5(u16(t) + HIDE_KEY + RV).digest()
    for i in range(0, len(s), 16):
        c = bytes(x ^ y for x, y in zip(s[i:i+16], h))
        out += c
        h = hashlib.md5(HIDE_KEY + c).digest()
    return out

def fmt(bs):
    return ", ".join("0x%02x" % x for x in bs)

class Pkt:
    def __init__(self, name, sender, conn, ns, nr, digest=0):
        self.name, self.sender, self.conn, self.ns, self.nr = name, sender, conn, ns, nr
        self.digest = digest  # None: no Message Digest AVP; 0 HMAC-MD5; 1 HMAC-SHA-1
        self.avps = []
    def avp(self, name, t, value, m, h=False, vendor=0, clear=None):
        flags = (0x8000 if m else 0) | (0x4000 if h else 0) | (6 + len(value))
        lines = ["// %s AVP (%s%s)" % (name, "M=1" if m else "M=0", ", H=1" if h else ""),
                 "%s, // M H rsvd, Length %d" % (fmt(u16(flags)), 6 + len(value)),
                 "%s, // Vendor ID %d" % (fmt(u16(vendor)), vendor),
                 "%s, // Attribute Type %d" % (fmt(u16(t)), t)]
        raw = u16(flags) + u16(vendor) + u16(t) + value
        self.avps.append([lines, raw, value, clear, t])
        return self
    def wire(self, zero_digest=True):
        body = b"".join(a[1] for a in self.avps)
        total = 12 + len(body)
        hdr = u16(0xc803) + u16(total) + u32(self.conn) + u16(self.ns) + u16(self.nr)
        return hdr + body
    def sign(self):
        if self.digest is None:
            return
        # The digest AVP is the second; its value is type + zeros now.
        msg = self.wire()
        mt = struct.unpack(">H", self.avps[0][2])[0]
        if mt == 1:
            data = msg  # SCCRQ: no nonces
        elif self.sender == "A":
            data = NONCE_A + NONCE_B + msg
        else:
            data = NONCE_B + NONCE_A + msg
        alg = hashlib.md5 if self.digest == 0 else hashlib.sha1
        d = hmac.new(AUTH_KEY, data, alg).digest()
        a = self.avps[1]
        a[2] = bytes([self.digest]) + d
        a[1] = a[1][:6] + a[2]
        self.signed = d
    def render(self):
        msg = self.wire()
        out = ["// header, section 3.2.1 (%s sends)" % self.sender,
               "0xc8, 0x03, // T=1 L=1 S=1, Ver=3",
               "%s, // Length %d" % (fmt(u16(len(msg))), len(msg)),
               "%s, // Control Connection ID" % fmt(u32(self.conn)),
               "%s, // Ns" % fmt(u16(self.ns)),
               "%s, // Nr" % fmt(u16(self.nr))]
        for lines, raw, value, clear, t in self.avps:
            out += lines
            if t == 59:  # Digest Type, then the digest
                out.append("%s, // Digest Type %d" % (fmt(value[:1]), value[0]))
                out.append("// the %d-octet digest" % (len(value) - 1))
                value, clear = value[1:], ""
            for i in range(0, len(value), 16):
                cm = (clear if clear is not None else "value") if i == 0 else ""
                out.append("%s,%s" % (fmt(value[i:i+16]), (" // " + cm) if cm else ""))
        return "\t\t" + "\n\t\t".join(out)

def mt(p, t):
    p.avp("Message Type %d, section 5.4.1" % t, 0, u16(t), True)
    if p.digest is not None:
        size = 16 if p.digest == 0 else 20
        alg = "HMAC-MD5" if p.digest == 0 else "HMAC-SHA-1"
        if t == 1:
            how = "%s(key, message), section 5.4.1 (SCCRQ: no nonces)" % alg
        elif p.sender == "A":
            how = "%s(key, nonce A || nonce B || message), section 5.4.1" % alg
        else:
            how = "%s(key, nonce B || nonce A || message), section 5.4.1" % alg
        p.avp("Message Digest " + how, 59, bytes([p.digest]) + bytes(size), True)
    return p

pk = {}
def add(p): pk[p.name] = p

p = mt(Pkt("SCCRQ", "A", 0, 0, 0), 1)
p.avp("Host Name, section 5.4.3", 7, b"lac1", True, clear='"lac1"')
p.avp("Router ID 10.0.0.1, section 5.4.3", 60, u32(0x0a000001), True)
p.avp("Assigned Control Connection ID 0x11223344, section 5.4.3", 61, u32(0x11223344), True)
p.avp("Pseudowire Capabilities List PPP, Ethernet, Ethernet VLAN, section 5.4.3", 62, u16(7) + u16(5) + u16(4), True)
p.avp("Control Message Authentication Nonce A, section 5.4.1", 73, NONCE_A, True)
p.avp("Control Connection Tie Breaker, section 5.4.3", 5, bytes.fromhex("0102030405060708"), True)
p.avp("Vendor Name, section 5.4.3", 8, b"bras", False, clear='"bras"')
p.avp("Receive Window Size 16, section 5.4.3", 10, u16(16), True)
p.avp("Preferred Language, section 5.4.3", 72, b"en", False, clear='"en"')
add(p)

p = mt(Pkt("SCCRP", "B", 0x11223344, 0, 1), 2)
p.avp("Host Name, section 5.4.3", 7, b"lns1", True, clear='"lns1"')
p.avp("Router ID 10.0.0.2, section 5.4.3", 60, u32(0x0a000002), True)
p.avp("Assigned Control Connection ID 0x55667788, section 5.4.3", 61, u32(0x55667788), True)
p.avp("Pseudowire Capabilities List PPP, Ethernet, section 5.4.3", 62, u16(7) + u16(5), True)
p.avp("Control Message Authentication Nonce B, section 5.4.1", 73, NONCE_B, True)
p.avp("Vendor Name, section 5.4.3", 8, b"bras", False, clear='"bras"')
p.avp("Receive Window Size 8, section 5.4.3", 10, u16(8), True)
add(p)

add(mt(Pkt("SCCCN", "A", 0x55667788, 1, 1, digest=1), 3))

add(mt(Pkt("HELLO", "B", 0x11223344, 1, 2), 6))

add(mt(Pkt("ACK", "A", 0x55667788, 2, 2), 20))

p = mt(Pkt("ICRQ", "A", 0x55667788, 2, 2), 10)
p.avp("Local Session ID 0x00010001, section 5.4.4", 63, u32(0x00010001), True)
p.avp("Remote Session ID 0 (not known yet), section 5.4.4", 64, u32(0), True)
p.avp("Serial Number 1, section 5.4.4", 15, u32(1), False)
p.avp("Pseudowire Type PPP, section 5.4.4", 68, u16(7), True)
p.avp("Remote End ID, section 5.4.4", 66, b"eth0.100", True, clear='"eth0.100"')
p.avp("Circuit Status Active|New, section 5.4.5", 71, u16(3), True)
p.avp("Assigned Cookie, 4 octets, section 5.4.4", 65, u32(0xdeadbeef), True)
p.avp("Session Tie Breaker, section 5.4.4", 5, bytes.fromhex("1112131415161718"), True)
p.avp("L2-Specific Sublayer Default, section 5.4.4", 69, u16(1), True)
p.avp("Data Sequencing All, section 5.4.4", 70, u16(2), True)
p.avp("Tx Connect Speed 1000000000, section 5.4.4", 74, u64(1000000000), False)
p.avp("Rx Connect Speed 100000000, section 5.4.4", 75, u64(100000000), False)
p.avp("Physical Channel ID 7, section 5.4.4", 25, u32(7), False)
add(p)

p = mt(Pkt("ICRP", "B", 0x11223344, 2, 3), 11)
p.avp("Local Session ID 0x00020002, section 5.4.4", 63, u32(0x00020002), True)
p.avp("Remote Session ID 0x00010001, section 5.4.4", 64, u32(0x00010001), True)
p.avp("Circuit Status Active, section 5.4.5", 71, u16(1), True)
p.avp("Assigned Cookie, 8 octets, section 5.4.4", 65, u64(0x0102030405060708), True)
p.avp("L2-Specific Sublayer Default, section 5.4.4", 69, u16(1), True)
p.avp("Data Sequencing None, section 5.4.4", 70, u16(0), True)
p.avp("Tx Connect Speed 100000000, section 5.4.4", 74, u64(100000000), False)
p.avp("Rx Connect Speed 1000000000, section 5.4.4", 75, u64(1000000000), False)
p.avp("Physical Channel ID 9, section 5.4.4", 25, u32(9), False)
add(p)

p = mt(Pkt("ICCN", "A", 0x55667788, 3, 3), 12)
p.avp("Local Session ID 0x00010001, section 5.4.4", 63, u32(0x00010001), True)
p.avp("Remote Session ID 0x00020002, section 5.4.4", 64, u32(0x00020002), True)
p.avp("L2-Specific Sublayer Default, section 5.4.4", 69, u16(1), True)
p.avp("Data Sequencing All, section 5.4.4", 70, u16(2), True)
p.avp("Tx Connect Speed 1000000000, section 5.4.4", 74, u64(1000000000), False)
p.avp("Rx Connect Speed 100000000, section 5.4.4", 75, u64(100000000), False)
p.avp("Circuit Status Active, section 5.4.5", 71, u16(1), True)
p.avp("Proxy Authen Type 3 (PAP) of the PPP pseudowire, RFC 2661 section 4.4.5", 29, u16(3), False)
p.avp("Random Vector 00..0f, section 5.4.1", 36, RV, True)
p.avp("Proxy Authen Name \"alice\" hidden, section 5.3", 30, hide(30, b"alice"), False, h=True,
      clear="length 5, \"alice\", XOR MD5(30 || HMAC-MD5(secret, 1) || RV)")
p.avp("Proxy Authen ID 1, RFC 2661 section 4.4.5", 32, bytes([0, 1]), False)
p.avp("Proxy Authen Response \"password1234567890\" hidden (two MD5 blocks), section 5.3", 33,
      hide(33, b"password1234567890"), False, h=True,
      clear="c1 = p1 XOR MD5(33 || key || RV), c2 = p2 XOR MD5(key || c1)")
add(p)

p = mt(Pkt("OCRQ", "B", 0x11223344, 3, 4), 7)
p.avp("Local Session ID 0x00020003, section 5.4.4", 63, u32(0x00020003), True)
p.avp("Remote Session ID 0, section 5.4.4", 64, u32(0), True)
p.avp("Serial Number 2, section 5.4.4", 15, u32(2), False)
p.avp("Pseudowire Type Ethernet, section 5.4.4", 68, u16(5), True)
p.avp("Remote End ID, section 5.4.4", 66, b"port1", True, clear='"port1"')
p.avp("Circuit Status Active|New, section 5.4.5", 71, u16(3), True)
p.avp("Assigned Cookie, none, section 5.4.4", 65, b"", True)
p.avp("Tx Connect Speed 0 (unknown), section 5.4.4", 74, u64(0), False)
p.avp("Rx Connect Speed 0, section 5.4.4", 75, u64(0), False)
p.avp("Session Tie Breaker, section 5.4.4", 5, bytes.fromhex("2122232425262728"), True)
p.avp("L2-Specific Sublayer None, section 5.4.4", 69, u16(0), True)
p.avp("Data Sequencing None, section 5.4.4", 70, u16(0), True)
add(p)

p = mt(Pkt("OCRP", "A", 0x55667788, 4, 4), 8)
p.avp("Local Session ID 0x00010003, section 5.4.4", 63, u32(0x00010003), True)
p.avp("Remote Session ID 0x00020003, section 5.4.4", 64, u32(0x00020003), True)
p.avp("Circuit Status Active, section 5.4.5", 71, u16(1), True)
p.avp("Assigned Cookie, 4 octets, section 5.4.4", 65, u32(0xcafef00d), True)
p.avp("L2-Specific Sublayer None, section 5.4.4", 69, u16(0), True)
p.avp("Tx Connect Speed 10000000, section 5.4.4", 74, u64(10000000), False)
p.avp("Rx Connect Speed 10000000, section 5.4.4", 75, u64(10000000), False)
p.avp("Data Sequencing Non-IP, section 5.4.4", 70, u16(1), True)
p.avp("Physical Channel ID 3, section 5.4.4", 25, u32(3), False)
add(p)

p = mt(Pkt("OCCN", "A", 0x55667788, 5, 4), 9)
p.avp("Local Session ID 0x00010003, section 5.4.4", 63, u32(0x00010003), True)
p.avp("Remote Session ID 0x00020003, section 5.4.4", 64, u32(0x00020003), True)
p.avp("L2-Specific Sublayer None, section 5.4.4", 69, u16(0), True)
p.avp("Tx Connect Speed 10000000, section 5.4.4", 74, u64(10000000), False)
p.avp("Rx Connect Speed 10000000, section 5.4.4", 75, u64(10000000), False)
p.avp("Data Sequencing Non-IP, section 5.4.4", 70, u16(1), True)
p.avp("Circuit Status Active, section 5.4.5", 71, u16(1), True)
add(p)

p = mt(Pkt("SLI", "B", 0x11223344, 4, 6), 16)
p.avp("Local Session ID 0x00020002, section 5.4.4", 63, u32(0x00020002), True)
p.avp("Remote Session ID 0x00010001, section 5.4.4", 64, u32(0x00010001), True)
p.avp("Circuit Status Inactive, section 5.4.5", 71, u16(0), True)
add(p)

p = mt(Pkt("WEN", "A", 0x55667788, 6, 5, digest=1), 15)
p.avp("Local Session ID 0x00010001, section 5.4.4", 63, u32(0x00010001), True)
p.avp("Remote Session ID 0x00020002, section 5.4.4", 64, u32(0x00020002), True)
p.avp("Circuit Errors (Length 32), section 5.4.5", 34, u16(0) + b"".join(u32(i) for i in range(1, 7)), False,
      clear="reserved 0, CRC 1, Framing 2, Hardware 3, Buffer 4 (first half) ...")
add(p)

p = mt(Pkt("CDN", "B", 0x11223344, 5, 7), 14)
p.avp("Result Code 14 (unsupported PW type), section 5.4.2", 1, u16(14), True)
p.avp("Local Session ID 0x00020003, section 5.4.4", 63, u32(0x00020003), True)
p.avp("Remote Session ID 0x00010003, section 5.4.4", 64, u32(0x00010003), True)
add(p)

p = mt(Pkt("StopCCN", "A", 0x55667788, 7, 6), 4)
p.avp("Result Code 1 (clear), error 0, \"bye\", section 5.4.2", 1, u16(1) + u16(0) + b"bye", True)
p.avp("Assigned Control Connection ID 0x11223344, section 5.4.3", 61, u32(0x11223344), True)
add(p)

# A ZLB of a control connection without authentication (section 6.15).
add(Pkt("ZLB", "B", 0x11223344, 6, 8, digest=None))

for p in pk.values():
    p.sign()

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "..", "v3golden_test.go"), "w") as f:
    w = lambda s="": f.write(s + "\n")
    w("// Code generated by testdata/golden_v3_gen.py from the RFC 3931 layouts. DO NOT EDIT.")
    w()
    w("package l2tp")
    w()
    w("import (")
    w('\t"bytes"')
    w('\t"crypto/hmac"')
    w('\t"crypto/md5"')
    w('\t"encoding/binary"')
    w('\t"testing"')
    w(")")
    w()
    w("// v3GoldenBytes are the control messages of one L2TPv3 control connection")
    w("// between LCCE A (lac1, sends the SCCRQ) and LCCE B (lns1) over UDP, each")
    w("// signed with the secret and nonces below (the ZLB aside).")
    w("var v3GoldenBytes = map[string][]byte{")
    for k, p in pk.items():
        w('\t"%s": {' % k)
        w(p.render())
        w("\t},")
    w("}")
    w()
    w("// v3GoldenOrder is the order of the messages on the wire, and who sends each.")
    w("var v3GoldenOrder = []struct{ name, sender string }{")
    for k, p in pk.items():
        w('\t{"%s", "%s"},' % (k, p.sender))
    w("}")
    w()
    w("// Values the generator used.")
    w('var v3GoldenSecret = []byte("s3cret")')
    w("var v3GoldenNonceA = []byte{%s}" % fmt(NONCE_A))
    w("var v3GoldenNonceB = []byte{%s}" % fmt(NONCE_B))
    w()
    w("// HMAC-MD5(secret, 1), section 5.3.")
    w("var v3GoldenHidingKey = [16]byte{%s}" % fmt(HIDE_KEY))
    w()
    w("// HMAC-MD5(secret, 2), section 5.4.1.")
    w("var v3GoldenAuthKey = [16]byte{%s}" % fmt(AUTH_KEY))
    w("""
// TestV3GoldenData checks the generated data against itself and against
// Go's own HMAC, so that a generator slip shows here rather than as a
// puzzling failure elsewhere: every message of the wire order is there
// (and no other), each has an L2TPv3 control header (T, L, S set, Ver 3,
// section 3.2.1) whose Length is its size, and the two keys are the HMACs
// sections 5.3 and 5.4.1 define.
func TestV3GoldenData(t *testing.T) {
	if len(v3GoldenOrder) != len(v3GoldenBytes) {
		t.Errorf("%d messages in the wire order, %d in the golden bytes", len(v3GoldenOrder), len(v3GoldenBytes))
	}
	for _, m := range v3GoldenOrder {
		b, ok := v3GoldenBytes[m.name]
		switch {
		case !ok:
			t.Errorf("%s: in the wire order, not in the golden bytes", m.name)
			continue
		case m.sender != "A" && m.sender != "B":
			t.Errorf("%s: sender %q", m.name, m.sender)
		case len(b) < 12:
			t.Errorf("%s: %d octets, shorter than a control header", m.name, len(b))
			continue
		}
		if flags := binary.BigEndian.Uint16(b); flags&0xc80f != 0xc803 {
			t.Errorf("%s: first header word %#04x, want T, L, S and Ver 3", m.name, flags)
		}
		if n := binary.BigEndian.Uint16(b[2:]); int(n) != len(b) {
			t.Errorf("%s: Length %d, message %d octets", m.name, n, len(b))
		}
	}
	for _, k := range []struct {
		name string
		in   byte
		got  [16]byte
	}{{"hiding key", 1, v3GoldenHidingKey}, {"authentication key", 2, v3GoldenAuthKey}} {
		h := hmac.New(md5.New, v3GoldenSecret)
		h.Write([]byte{k.in})
		if want := h.Sum(nil); !bytes.Equal(k.got[:], want) {
			t.Errorf("%s %x, want HMAC-MD5(secret, %d) = %x", k.name, k.got, k.in, want)
		}
	}
}""")
