package l2tp

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
)

// hide appends the hidden form of value for an AVP of attribute type t,
// RFC 2661 section 4.3: the Hidden AVP Subformat (2-octet original length,
// value, pad) XORed with the MD5 chain
//
//	b1 = MD5(type || secret || RV)    c1 = p1 xor b1
//	bi = MD5(secret || c(i-1))        ci = pi xor bi
//
// A last chunk shorter than 16 octets is XORed with the head of its hash
// and the AVP keeps its length. pad is appended as given (random octets).
func hide(b []byte, t AVPType, value, pad, secret, rv []byte) []byte {
	start := len(b)
	b = binary.BigEndian.AppendUint16(b, uint16(len(value)))
	b = append(b, value...)
	b = append(b, pad...)
	xorChain(b[start:], t, secret, rv, true)
	return b
}

// reveal returns the clear value of a hidden AVP of attribute type t
// (section 4.3), in a fresh slice. The Original Length must fit in what
// follows it; padding is dropped. A wrong secret usually shows up as an
// impossible Original Length (ErrMalformed).
func reveal(t AVPType, hidden, secret, rv []byte) ([]byte, error) {
	if len(hidden) < 2 {
		return nil, fmt.Errorf("%w: hidden %s AVP of %d octets", ErrMalformed, t, len(hidden))
	}
	s := append([]byte(nil), hidden...)
	xorChain(s, t, secret, rv, false)
	n := int(binary.BigEndian.Uint16(s[0:2]))
	if n > len(s)-2 {
		return nil, fmt.Errorf("%w: hidden %s AVP original length %d exceeds its %d octets (wrong secret?)", ErrMalformed, t, n, len(s)-2)
	}
	if n == 0 {
		return nil, nil
	}
	return s[2 : 2+n : 2+n], nil
}

// xorChain XORs s in place with the MD5 chain of section 4.3. When
// encrypting, each previous ciphertext block is the output just written;
// when decrypting it is the input before it is overwritten.
func xorChain(s []byte, t AVPType, secret, rv []byte, encrypt bool) {
	h := md5.New()
	var tb [2]byte
	binary.BigEndian.PutUint16(tb[:], uint16(t))
	h.Write(tb[:])
	h.Write(secret)
	h.Write(rv)
	var sum, prev [md5.Size]byte
	h.Sum(sum[:0])
	for off := 0; off < len(s); off += md5.Size {
		chunk := s[off:min(off+md5.Size, len(s))]
		if !encrypt {
			copy(prev[:], chunk) // ciphertext, before it becomes clear text
		}
		for i := range chunk {
			chunk[i] ^= sum[i]
		}
		if encrypt {
			copy(prev[:], chunk)
		}
		if off+md5.Size < len(s) {
			// Only full blocks feed the next hash.
			h.Reset()
			h.Write(secret)
			h.Write(prev[:])
			h.Sum(sum[:0])
		}
	}
}
