# Assembles golden L2TP control packets field by field from RFC 2661
# (section 3.1 header, section 4.1 AVP header, section 4.3 hiding, section
# 4.4 values, section 6 messages) and prints them as Go byte literals with
# one comment per field. Independent of the Go code under test.
import hashlib, struct

SECRET = b"s3cret"
RV = bytes(range(16))

def u16(v): return struct.pack(">H", v)
def u32(v): return struct.pack(">I", v)

def hide(t, value, pad=b""):
    s = bytearray(u16(len(value)) + value + pad)
    out = bytearray()
    h = hashlib.md5(u16(t) + SECRET + RV).digest()
    for i in range(0, len(s), 16):
        chunk = s[i:i+16]
        c = bytes(x ^ y for x, y in zip(chunk, h))
        out += c
        h = hashlib.md5(SECRET + c).digest()
    return bytes(out)

def fmt(bs):
    return ", ".join("0x%02x" % x for x in bs)

class Pkt:
    def __init__(self, name, tunnel, session, ns, nr):
        self.name = name; self.tunnel=tunnel; self.session=session; self.ns=ns; self.nr=nr
        self.avps = []  # (lines)
    def avp(self, name, t, value, m, h=False, vendor=0, clear=None):
        flags = (0x8000 if m else 0) | (0x4000 if h else 0) | (6 + len(value))
        lines = ["// %s AVP (%s%s%s)" % (name, "M=1" if m else "M=0", ", H=1" if h else "", "" if vendor == 0 else ", vendor %d" % vendor),
                 "%s, // M H rsvd, Length %d" % (fmt(u16(flags)), 6 + len(value)),
                 "%s, // Vendor ID %d" % (fmt(u16(vendor)), vendor),
                 "%s, // Attribute Type %d" % (fmt(u16(t)), t)]
        if value:
            step = 16
            for i in range(0, len(value), step):
                part = value[i:i+step]
                cm = clear if clear and i == 0 else ("value" if i == 0 else "")
                lines.append("%s,%s" % (fmt(part), (" // " + cm) if cm else ""))
        self.avps.append((lines, 6 + len(value)))
        return self
    def render(self):
        total = 12 + sum(n for _, n in self.avps)
        out = ["// header, section 3.1",
               "0xc8, 0x02, // T=1 L=1 S=1, Ver=2",
               "%s, // Length %d" % (fmt(u16(total)), total),
               "%s, // Tunnel ID" % fmt(u16(self.tunnel)),
               "%s, // Session ID" % fmt(u16(self.session)),
               "%s, // Ns" % fmt(u16(self.ns)),
               "%s, // Nr" % fmt(u16(self.nr))]
        for lines, _ in self.avps:
            out += lines
        return "\t\t\t" + "\n\t\t\t".join(out)

def mt(p, t): return p.avp("Message Type %d, section 4.4.1" % t, 0, u16(t), True)

pk = {}
p = Pkt("SCCRQ", 0, 0, 0, 0); mt(p, 1)
p.avp("Protocol Version 1.0, section 4.4.3", 2, bytes([1, 0]), True)
p.avp("Host Name, section 4.4.3", 7, b"lac1", True, clear='"lac1"')
p.avp("Framing Capabilities A|S, section 4.4.3", 3, u32(3), True)
p.avp("Assigned Tunnel ID 1, section 4.4.3", 9, u16(1), True)
p.avp("Bearer Capabilities none, section 4.4.3", 4, u32(0), True)
p.avp("Receive Window Size 4, section 4.4.3", 10, u16(4), True)
p.avp("Challenge, section 4.4.3", 11, bytes.fromhex("deadbeef"), True)
p.avp("Tie Breaker, section 4.4.3", 5, bytes.fromhex("0102030405060708"), False)
p.avp("Firmware Revision 0x0100, section 4.4.3", 6, u16(0x100), False)
p.avp("Vendor Name, section 4.4.3", 8, b"bras", False, clear='"bras"')
pk["SCCRQ"] = p

resp2 = hashlib.md5(bytes([2]) + SECRET + bytes.fromhex("deadbeef")).digest()
p = Pkt("SCCRP", 1, 0, 0, 1); mt(p, 2)
p.avp("Protocol Version 1.0, section 4.4.3", 2, bytes([1, 0]), True)
p.avp("Framing Capabilities S, section 4.4.3", 3, u32(1), True)
p.avp("Host Name, section 4.4.3", 7, b"lns1", True, clear='"lns1"')
p.avp("Assigned Tunnel ID 2, section 4.4.3", 9, u16(2), True)
p.avp("Bearer Capabilities D, section 4.4.3", 4, u32(1), True)
p.avp("Firmware Revision 0x0001, section 4.4.3", 6, u16(1), False)
p.avp("Vendor Name, section 4.4.3", 8, b"bras", False, clear='"bras"')
p.avp("Receive Window Size 16, section 4.4.3", 10, u16(16), True)
p.avp("Challenge, section 4.4.3", 11, bytes.fromhex("cafebabe01"), True)
p.avp("Challenge Response MD5(2 || secret || deadbeef), section 4.4.3", 13, resp2, True)
pk["SCCRP"] = p

resp3 = hashlib.md5(bytes([3]) + SECRET + bytes.fromhex("cafebabe01")).digest()
p = Pkt("SCCCN", 2, 0, 1, 1); mt(p, 3)
p.avp("Challenge Response MD5(3 || secret || cafebabe01), section 4.4.3", 13, resp3, True)
pk["SCCCN"] = p

p = Pkt("StopCCN", 2, 0, 2, 1); mt(p, 4)
p.avp("Assigned Tunnel ID 1, section 4.4.3", 9, u16(1), True)
p.avp("Result Code 1 (clear), error 0, \"bye\", section 4.4.2", 1, u16(1) + u16(0) + b"bye", True)
pk["StopCCN"] = p

p = Pkt("HELLO", 2, 0, 3, 2); mt(p, 6)
pk["HELLO"] = p

p = Pkt("OCRQ", 1, 0, 4, 3); mt(p, 7)
p.avp("Assigned Session ID 5, section 4.4.4", 14, u16(5), True)
p.avp("Call Serial Number 0x01020304, section 4.4.4", 15, u32(0x01020304), True)
p.avp("Minimum BPS 9600, section 4.4.4", 16, u32(9600), True)
p.avp("Maximum BPS 64000, section 4.4.4", 17, u32(64000), True)
p.avp("Bearer Type D, section 4.4.4", 18, u32(1), True)
p.avp("Framing Type S, section 4.4.4", 19, u32(1), True)
p.avp("Called Number, section 4.4.4", 21, b"5551234", True, clear='"5551234"')
p.avp("Sub-Address, section 4.4.4", 23, b"12", True, clear='"12"')
pk["OCRQ"] = p

p = Pkt("OCRP", 2, 5, 3, 5); mt(p, 8)
p.avp("Assigned Session ID 6, section 4.4.4", 14, u16(6), True)
p.avp("Physical Channel ID 3, section 4.4.4", 25, u32(3), False)
pk["OCRP"] = p

p = Pkt("OCCN", 2, 5, 4, 5); mt(p, 9)
p.avp("(Tx) Connect Speed 64000, section 4.4.4", 24, u32(64000), True)
p.avp("Framing Type S, section 4.4.4", 19, u32(1), True)
p.avp("Rx Connect Speed 56000, section 4.4.4", 38, u32(56000), False)
p.avp("Sequencing Required, section 4.4.4", 39, b"", True)
pk["OCCN"] = p

p = Pkt("ICRQ", 2, 0, 5, 5); mt(p, 10)
p.avp("Assigned Session ID 0x0011, section 4.4.4", 14, u16(0x11), True)
p.avp("Call Serial Number 1, section 4.4.4", 15, u32(1), True)
p.avp("Bearer Type A, section 4.4.4", 18, u32(2), True)
p.avp("Physical Channel ID 7, section 4.4.4", 25, u32(7), False)
p.avp("Calling Number, section 4.4.4", 22, b"00:11:22:33:44:55", True, clear='"00:11:22:33:44:55"')
p.avp("Called Number, section 4.4.4", 21, b"lac1", True, clear='"lac1"')
p.avp("Sub-Address, section 4.4.4", 23, b"eth0", True, clear='"eth0"')
p.avp("vendor AVP reusing number 14, kept raw, section 4.1", 14, bytes.fromhex("0102"), False, vendor=9)
pk["ICRQ"] = p

p = Pkt("ICRP", 1, 0x11, 6, 6); mt(p, 11)
p.avp("Assigned Session ID 0x0022, section 4.4.4", 14, u16(0x22), True)
pk["ICRP"] = p

lcp_init = bytes.fromhex("010405d4050611223344")
lcp_sent = bytes.fromhex("0304c023" "0506aabbccdd")
p = Pkt("ICCN", 2, 0x22, 6, 7); mt(p, 12)
p.avp("(Tx) Connect Speed 100000000, section 4.4.4", 24, u32(100000000), True)
p.avp("Framing Type S, section 4.4.4", 19, u32(1), True)
p.avp("Initial Received LCP CONFREQ: MRU 1492, Magic, section 4.4.5", 26, lcp_init, False)
p.avp("Last Sent LCP CONFREQ: Auth PAP, Magic, section 4.4.5", 27, lcp_sent, False)
p.avp("Last Received LCP CONFREQ, section 4.4.5", 28, lcp_init, False)
p.avp("Proxy Authen Type 3 (PAP), section 4.4.5", 29, u16(3), False)
p.avp("Random Vector 00..0f, section 4.4.1", 36, RV, True)
p.avp("Proxy Authen Name \"alice\" hidden with secret \"s3cret\", sections 4.3 and 4.4.5", 30, hide(30, b"alice"), False, h=True, clear="2-octet length 5, \"alice\", XOR MD5(30 || secret || RV)")
p.avp("Proxy Authen ID 1, section 4.4.5", 32, bytes([0, 1]), False)
p.avp("Proxy Authen Response \"password1234567890\" hidden (20-octet subformat: two MD5 blocks), section 4.3", 33, hide(33, b"password1234567890"), False, h=True, clear="c(1) = p1 XOR MD5(33 || secret || RV), then c(2) = p2 XOR MD5(secret || c(1))")
p.avp("Private Group ID, section 4.4.4", 37, b"vpn1", False, clear='"vpn1"')
p.avp("Rx Connect Speed 50000000, section 4.4.4", 38, u32(50000000), False)
p.avp("Sequencing Required, section 4.4.4", 39, b"", True)
pk["ICCN"] = p

p = Pkt("CDN", 1, 0x11, 7, 7); mt(p, 14)
p.avp("Result Code 2 (general error), error 4 (insufficient resources), section 4.4.2", 1, u16(2) + u16(4), True)
p.avp("Assigned Session ID 0x0022, section 4.4.4", 14, u16(0x22), True)
p.avp("Q.931 Cause Code 16, msg 0x45 DISCONNECT, \"normal\", section 4.4.4", 12, u16(16) + bytes([0x45]) + b"normal", True)
pk["CDN"] = p

p = Pkt("WEN", 1, 0x11, 8, 7); mt(p, 15)
p.avp("Call Errors, section 4.4.6", 34, u16(0) + b"".join(u32(i) for i in range(1, 7)), True, clear="reserved 0, CRC 1, Framing 2, Hardware 3, Buffer 4 (first half) ...")
pk["WEN"] = p

p = Pkt("SLI", 2, 0x22, 8, 9); mt(p, 16)
p.avp("ACCM, section 4.4.6", 35, u16(0) + u32(0xffffffff) + u32(0), True, clear="reserved 0, Send ACCM ffffffff, Receive ACCM 0")
pk["SLI"] = p

print("// Code generated by hand-run /tmp/l2gen/gen.py from RFC 2661 layouts; the")
print("// bytes are pasted here so the test does not depend on the generator.")
print()
print("var goldenBytes = map[string][]byte{")
for k, p in pk.items():
    print('\t"%s": {' % k)
    print(p.render())
    print("\t},")
print("}")
print()
print("// Values the generator used, for hiding and the challenge responses.")
print('var goldenSecret = []byte("s3cret")')
print("var goldenResp2 = [16]byte{%s}" % fmt(resp2))
print("var goldenResp3 = [16]byte{%s}" % fmt(resp3))
# hidden with padding sample
hp = hide(30, b"bob", bytes([0xa5]*13))
print("// Proxy Authen Name \"bob\" hidden with 13 octets of padding (0xa5), same secret and RV.")
print("var goldenHiddenPadded = []byte{%s}" % fmt(hp))
