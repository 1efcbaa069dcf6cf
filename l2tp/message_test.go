package l2tp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bras-project/bras/internal/testenv"
)

// Assembled by testdata/golden_gen.py from the RFC 2661 layouts; the
// bytes are pasted here so the test does not depend on the generator.

var goldenBytes = map[string][]byte{
	"SCCRQ": {
		// header, section 3.1
		0xc8, 0x02, // T=1 L=1 S=1, Ver=2
		0x00, 0x74, // Length 116
		0x00, 0x00, // Tunnel ID
		0x00, 0x00, // Session ID
		0x00, 0x00, // Ns
		0x00, 0x00, // Nr
		// Message Type 1, section 4.4.1 AVP (M=1)
		0x80, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x00, // Attribute Type 0
		0x00, 0x01, // value
		// Protocol Version 1.0, section 4.4.3 AVP (M=1)
		0x80, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x02, // Attribute Type 2
		0x01, 0x00, // value
		// Host Name, section 4.4.3 AVP (M=1)
		0x80, 0x0a, // M H rsvd, Length 10
		0x00, 0x00, // Vendor ID 0
		0x00, 0x07, // Attribute Type 7
		0x6c, 0x61, 0x63, 0x31, // "lac1"
		// Framing Capabilities A|S, section 4.4.3 AVP (M=1)
		0x80, 0x0a, // M H rsvd, Length 10
		0x00, 0x00, // Vendor ID 0
		0x00, 0x03, // Attribute Type 3
		0x00, 0x00, 0x00, 0x03, // value
		// Assigned Tunnel ID 1, section 4.4.3 AVP (M=1)
		0x80, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x09, // Attribute Type 9
		0x00, 0x01, // value
		// Bearer Capabilities none, section 4.4.3 AVP (M=1)
		0x80, 0x0a, // M H rsvd, Length 10
		0x00, 0x00, // Vendor ID 0
		0x00, 0x04, // Attribute Type 4
		0x00, 0x00, 0x00, 0x00, // value
		// Receive Window Size 4, section 4.4.3 AVP (M=1)
		0x80, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x0a, // Attribute Type 10
		0x00, 0x04, // value
		// Challenge, section 4.4.3 AVP (M=1)
		0x80, 0x0a, // M H rsvd, Length 10
		0x00, 0x00, // Vendor ID 0
		0x00, 0x0b, // Attribute Type 11
		0xde, 0xad, 0xbe, 0xef, // value
		// Tie Breaker, section 4.4.3 AVP (M=0)
		0x00, 0x0e, // M H rsvd, Length 14
		0x00, 0x00, // Vendor ID 0
		0x00, 0x05, // Attribute Type 5
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // value
		// Firmware Revision 0x0100, section 4.4.3 AVP (M=0)
		0x00, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x06, // Attribute Type 6
		0x01, 0x00, // value
		// Vendor Name, section 4.4.3 AVP (M=0)
		0x00, 0x0a, // M H rsvd, Length 10
		0x00, 0x00, // Vendor ID 0
		0x00, 0x08, // Attribute Type 8
		0x62, 0x72, 0x61, 0x73, // "bras"
	},
	"SCCRP": {
		// header, section 3.1
		0xc8, 0x02, // T=1 L=1 S=1, Ver=2
		0x00, 0x7d, // Length 125
		0x00, 0x01, // Tunnel ID
		0x00, 0x00, // Session ID
		0x00, 0x00, // Ns
		0x00, 0x01, // Nr
		// Message Type 2, section 4.4.1 AVP (M=1)
		0x80, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x00, // Attribute Type 0
		0x00, 0x02, // value
		// Protocol Version 1.0, section 4.4.3 AVP (M=1)
		0x80, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x02, // Attribute Type 2
		0x01, 0x00, // value
		// Framing Capabilities S, section 4.4.3 AVP (M=1)
		0x80, 0x0a, // M H rsvd, Length 10
		0x00, 0x00, // Vendor ID 0
		0x00, 0x03, // Attribute Type 3
		0x00, 0x00, 0x00, 0x01, // value
		// Host Name, section 4.4.3 AVP (M=1)
		0x80, 0x0a, // M H rsvd, Length 10
		0x00, 0x00, // Vendor ID 0
		0x00, 0x07, // Attribute Type 7
		0x6c, 0x6e, 0x73, 0x31, // "lns1"
		// Assigned Tunnel ID 2, section 4.4.3 AVP (M=1)
		0x80, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x09, // Attribute Type 9
		0x00, 0x02, // value
		// Bearer Capabilities D, section 4.4.3 AVP (M=1)
		0x80, 0x0a, // M H rsvd, Length 10
		0x00, 0x00, // Vendor ID 0
		0x00, 0x04, // Attribute Type 4
		0x00, 0x00, 0x00, 0x01, // value
		// Firmware Revision 0x0001, section 4.4.3 AVP (M=0)
		0x00, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x06, // Attribute Type 6
		0x00, 0x01, // value
		// Vendor Name, section 4.4.3 AVP (M=0)
		0x00, 0x0a, // M H rsvd, Length 10
		0x00, 0x00, // Vendor ID 0
		0x00, 0x08, // Attribute Type 8
		0x62, 0x72, 0x61, 0x73, // "bras"
		// Receive Window Size 16, section 4.4.3 AVP (M=1)
		0x80, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x0a, // Attribute Type 10
		0x00, 0x10, // value
		// Challenge, section 4.4.3 AVP (M=1)
		0x80, 0x0b, // M H rsvd, Length 11
		0x00, 0x00, // Vendor ID 0
		0x00, 0x0b, // Attribute Type 11
		0xca, 0xfe, 0xba, 0xbe, 0x01, // value
		// Challenge Response MD5(2 || secret || deadbeef), section 4.4.3 AVP (M=1)
		0x80, 0x16, // M H rsvd, Length 22
		0x00, 0x00, // Vendor ID 0
		0x00, 0x0d, // Attribute Type 13
		0xc4, 0xd4, 0x43, 0x48, 0x4e, 0xa2, 0xa0, 0x9f, 0xbd, 0xd4, 0x2e, 0xed, 0x4c, 0xf6, 0x04, 0xb8, // value
	},
	"SCCCN": {
		// header, section 3.1
		0xc8, 0x02, // T=1 L=1 S=1, Ver=2
		0x00, 0x2a, // Length 42
		0x00, 0x02, // Tunnel ID
		0x00, 0x00, // Session ID
		0x00, 0x01, // Ns
		0x00, 0x01, // Nr
		// Message Type 3, section 4.4.1 AVP (M=1)
		0x80, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x00, // Attribute Type 0
		0x00, 0x03, // value
		// Challenge Response MD5(3 || secret || cafebabe01), section 4.4.3 AVP (M=1)
		0x80, 0x16, // M H rsvd, Length 22
		0x00, 0x00, // Vendor ID 0
		0x00, 0x0d, // Attribute Type 13
		0xaf, 0x68, 0x1a, 0x4a, 0x16, 0xbd, 0x4b, 0x8d, 0x46, 0xdb, 0x0f, 0x30, 0x43, 0xe9, 0xba, 0x38, // value
	},
	"StopCCN": {
		// header, section 3.1
		0xc8, 0x02, // T=1 L=1 S=1, Ver=2
		0x00, 0x29, // Length 41
		0x00, 0x02, // Tunnel ID
		0x00, 0x00, // Session ID
		0x00, 0x02, // Ns
		0x00, 0x01, // Nr
		// Message Type 4, section 4.4.1 AVP (M=1)
		0x80, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x00, // Attribute Type 0
		0x00, 0x04, // value
		// Assigned Tunnel ID 1, section 4.4.3 AVP (M=1)
		0x80, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x09, // Attribute Type 9
		0x00, 0x01, // value
		// Result Code 1 (clear), error 0, "bye", section 4.4.2 AVP (M=1)
		0x80, 0x0d, // M H rsvd, Length 13
		0x00, 0x00, // Vendor ID 0
		0x00, 0x01, // Attribute Type 1
		0x00, 0x01, 0x00, 0x00, 0x62, 0x79, 0x65, // value
	},
	"HELLO": {
		// header, section 3.1
		0xc8, 0x02, // T=1 L=1 S=1, Ver=2
		0x00, 0x14, // Length 20
		0x00, 0x02, // Tunnel ID
		0x00, 0x00, // Session ID
		0x00, 0x03, // Ns
		0x00, 0x02, // Nr
		// Message Type 6, section 4.4.1 AVP (M=1)
		0x80, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x00, // Attribute Type 0
		0x00, 0x06, // value
	},
	"OCRQ": {
		// header, section 3.1
		0xc8, 0x02, // T=1 L=1 S=1, Ver=2
		0x00, 0x63, // Length 99
		0x00, 0x01, // Tunnel ID
		0x00, 0x00, // Session ID
		0x00, 0x04, // Ns
		0x00, 0x03, // Nr
		// Message Type 7, section 4.4.1 AVP (M=1)
		0x80, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x00, // Attribute Type 0
		0x00, 0x07, // value
		// Assigned Session ID 5, section 4.4.4 AVP (M=1)
		0x80, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x0e, // Attribute Type 14
		0x00, 0x05, // value
		// Call Serial Number 0x01020304, section 4.4.4 AVP (M=1)
		0x80, 0x0a, // M H rsvd, Length 10
		0x00, 0x00, // Vendor ID 0
		0x00, 0x0f, // Attribute Type 15
		0x01, 0x02, 0x03, 0x04, // value
		// Minimum BPS 9600, section 4.4.4 AVP (M=1)
		0x80, 0x0a, // M H rsvd, Length 10
		0x00, 0x00, // Vendor ID 0
		0x00, 0x10, // Attribute Type 16
		0x00, 0x00, 0x25, 0x80, // value
		// Maximum BPS 64000, section 4.4.4 AVP (M=1)
		0x80, 0x0a, // M H rsvd, Length 10
		0x00, 0x00, // Vendor ID 0
		0x00, 0x11, // Attribute Type 17
		0x00, 0x00, 0xfa, 0x00, // value
		// Bearer Type D, section 4.4.4 AVP (M=1)
		0x80, 0x0a, // M H rsvd, Length 10
		0x00, 0x00, // Vendor ID 0
		0x00, 0x12, // Attribute Type 18
		0x00, 0x00, 0x00, 0x01, // value
		// Framing Type S, section 4.4.4 AVP (M=1)
		0x80, 0x0a, // M H rsvd, Length 10
		0x00, 0x00, // Vendor ID 0
		0x00, 0x13, // Attribute Type 19
		0x00, 0x00, 0x00, 0x01, // value
		// Called Number, section 4.4.4 AVP (M=1)
		0x80, 0x0d, // M H rsvd, Length 13
		0x00, 0x00, // Vendor ID 0
		0x00, 0x15, // Attribute Type 21
		0x35, 0x35, 0x35, 0x31, 0x32, 0x33, 0x34, // "5551234"
		// Sub-Address, section 4.4.4 AVP (M=1)
		0x80, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x17, // Attribute Type 23
		0x31, 0x32, // "12"
	},
	"OCRP": {
		// header, section 3.1
		0xc8, 0x02, // T=1 L=1 S=1, Ver=2
		0x00, 0x26, // Length 38
		0x00, 0x02, // Tunnel ID
		0x00, 0x05, // Session ID
		0x00, 0x03, // Ns
		0x00, 0x05, // Nr
		// Message Type 8, section 4.4.1 AVP (M=1)
		0x80, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x00, // Attribute Type 0
		0x00, 0x08, // value
		// Assigned Session ID 6, section 4.4.4 AVP (M=1)
		0x80, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x0e, // Attribute Type 14
		0x00, 0x06, // value
		// Physical Channel ID 3, section 4.4.4 AVP (M=0)
		0x00, 0x0a, // M H rsvd, Length 10
		0x00, 0x00, // Vendor ID 0
		0x00, 0x19, // Attribute Type 25
		0x00, 0x00, 0x00, 0x03, // value
	},
	"OCCN": {
		// header, section 3.1
		0xc8, 0x02, // T=1 L=1 S=1, Ver=2
		0x00, 0x38, // Length 56
		0x00, 0x02, // Tunnel ID
		0x00, 0x05, // Session ID
		0x00, 0x04, // Ns
		0x00, 0x05, // Nr
		// Message Type 9, section 4.4.1 AVP (M=1)
		0x80, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x00, // Attribute Type 0
		0x00, 0x09, // value
		// (Tx) Connect Speed 64000, section 4.4.4 AVP (M=1)
		0x80, 0x0a, // M H rsvd, Length 10
		0x00, 0x00, // Vendor ID 0
		0x00, 0x18, // Attribute Type 24
		0x00, 0x00, 0xfa, 0x00, // value
		// Framing Type S, section 4.4.4 AVP (M=1)
		0x80, 0x0a, // M H rsvd, Length 10
		0x00, 0x00, // Vendor ID 0
		0x00, 0x13, // Attribute Type 19
		0x00, 0x00, 0x00, 0x01, // value
		// Rx Connect Speed 56000, section 4.4.4 AVP (M=0)
		0x00, 0x0a, // M H rsvd, Length 10
		0x00, 0x00, // Vendor ID 0
		0x00, 0x26, // Attribute Type 38
		0x00, 0x00, 0xda, 0xc0, // value
		// Sequencing Required, section 4.4.4 AVP (M=1)
		0x80, 0x06, // M H rsvd, Length 6
		0x00, 0x00, // Vendor ID 0
		0x00, 0x27, // Attribute Type 39
	},
	"ICRQ": {
		// header, section 3.1
		0xc8, 0x02, // T=1 L=1 S=1, Ver=2
		0x00, 0x6d, // Length 109
		0x00, 0x02, // Tunnel ID
		0x00, 0x00, // Session ID
		0x00, 0x05, // Ns
		0x00, 0x05, // Nr
		// Message Type 10, section 4.4.1 AVP (M=1)
		0x80, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x00, // Attribute Type 0
		0x00, 0x0a, // value
		// Assigned Session ID 0x0011, section 4.4.4 AVP (M=1)
		0x80, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x0e, // Attribute Type 14
		0x00, 0x11, // value
		// Call Serial Number 1, section 4.4.4 AVP (M=1)
		0x80, 0x0a, // M H rsvd, Length 10
		0x00, 0x00, // Vendor ID 0
		0x00, 0x0f, // Attribute Type 15
		0x00, 0x00, 0x00, 0x01, // value
		// Bearer Type A, section 4.4.4 AVP (M=1)
		0x80, 0x0a, // M H rsvd, Length 10
		0x00, 0x00, // Vendor ID 0
		0x00, 0x12, // Attribute Type 18
		0x00, 0x00, 0x00, 0x02, // value
		// Physical Channel ID 7, section 4.4.4 AVP (M=0)
		0x00, 0x0a, // M H rsvd, Length 10
		0x00, 0x00, // Vendor ID 0
		0x00, 0x19, // Attribute Type 25
		0x00, 0x00, 0x00, 0x07, // value
		// Calling Number, section 4.4.4 AVP (M=1)
		0x80, 0x17, // M H rsvd, Length 23
		0x00, 0x00, // Vendor ID 0
		0x00, 0x16, // Attribute Type 22
		0x30, 0x30, 0x3a, 0x31, 0x31, 0x3a, 0x32, 0x32, 0x3a, 0x33, 0x33, 0x3a, 0x34, 0x34, 0x3a, 0x35, // "00:11:22:33:44:55"
		0x35,
		// Called Number, section 4.4.4 AVP (M=1)
		0x80, 0x0a, // M H rsvd, Length 10
		0x00, 0x00, // Vendor ID 0
		0x00, 0x15, // Attribute Type 21
		0x6c, 0x61, 0x63, 0x31, // "lac1"
		// Sub-Address, section 4.4.4 AVP (M=1)
		0x80, 0x0a, // M H rsvd, Length 10
		0x00, 0x00, // Vendor ID 0
		0x00, 0x17, // Attribute Type 23
		0x65, 0x74, 0x68, 0x30, // "eth0"
		// vendor AVP reusing number 14, kept raw, section 4.1 AVP (M=0, vendor 9)
		0x00, 0x08, // M H rsvd, Length 8
		0x00, 0x09, // Vendor ID 9
		0x00, 0x0e, // Attribute Type 14
		0x01, 0x02, // value
	},
	"ICRP": {
		// header, section 3.1
		0xc8, 0x02, // T=1 L=1 S=1, Ver=2
		0x00, 0x1c, // Length 28
		0x00, 0x01, // Tunnel ID
		0x00, 0x11, // Session ID
		0x00, 0x06, // Ns
		0x00, 0x06, // Nr
		// Message Type 11, section 4.4.1 AVP (M=1)
		0x80, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x00, // Attribute Type 0
		0x00, 0x0b, // value
		// Assigned Session ID 0x0022, section 4.4.4 AVP (M=1)
		0x80, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x0e, // Attribute Type 14
		0x00, 0x22, // value
	},
	"ICCN": {
		// header, section 3.1
		0xc8, 0x02, // T=1 L=1 S=1, Ver=2
		0x00, 0xbf, // Length 191
		0x00, 0x02, // Tunnel ID
		0x00, 0x22, // Session ID
		0x00, 0x06, // Ns
		0x00, 0x07, // Nr
		// Message Type 12, section 4.4.1 AVP (M=1)
		0x80, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x00, // Attribute Type 0
		0x00, 0x0c, // value
		// (Tx) Connect Speed 100000000, section 4.4.4 AVP (M=1)
		0x80, 0x0a, // M H rsvd, Length 10
		0x00, 0x00, // Vendor ID 0
		0x00, 0x18, // Attribute Type 24
		0x05, 0xf5, 0xe1, 0x00, // value
		// Framing Type S, section 4.4.4 AVP (M=1)
		0x80, 0x0a, // M H rsvd, Length 10
		0x00, 0x00, // Vendor ID 0
		0x00, 0x13, // Attribute Type 19
		0x00, 0x00, 0x00, 0x01, // value
		// Initial Received LCP CONFREQ: MRU 1492, Magic, section 4.4.5 AVP (M=0)
		0x00, 0x10, // M H rsvd, Length 16
		0x00, 0x00, // Vendor ID 0
		0x00, 0x1a, // Attribute Type 26
		0x01, 0x04, 0x05, 0xd4, 0x05, 0x06, 0x11, 0x22, 0x33, 0x44, // value
		// Last Sent LCP CONFREQ: Auth PAP, Magic, section 4.4.5 AVP (M=0)
		0x00, 0x10, // M H rsvd, Length 16
		0x00, 0x00, // Vendor ID 0
		0x00, 0x1b, // Attribute Type 27
		0x03, 0x04, 0xc0, 0x23, 0x05, 0x06, 0xaa, 0xbb, 0xcc, 0xdd, // value
		// Last Received LCP CONFREQ, section 4.4.5 AVP (M=0)
		0x00, 0x10, // M H rsvd, Length 16
		0x00, 0x00, // Vendor ID 0
		0x00, 0x1c, // Attribute Type 28
		0x01, 0x04, 0x05, 0xd4, 0x05, 0x06, 0x11, 0x22, 0x33, 0x44, // value
		// Proxy Authen Type 3 (PAP), section 4.4.5 AVP (M=0)
		0x00, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x1d, // Attribute Type 29
		0x00, 0x03, // value
		// Random Vector 00..0f, section 4.4.1 AVP (M=1)
		0x80, 0x16, // M H rsvd, Length 22
		0x00, 0x00, // Vendor ID 0
		0x00, 0x24, // Attribute Type 36
		0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, // value
		// Proxy Authen Name "alice" hidden with secret "s3cret", sections 4.3 and 4.4.5 AVP (M=0, H=1)
		0x40, 0x0d, // M H rsvd, Length 13
		0x00, 0x00, // Vendor ID 0
		0x00, 0x1e, // Attribute Type 30
		0xe6, 0x72, 0x13, 0xa3, 0x74, 0xf1, 0x52, // 2-octet length 5, "alice", XOR MD5(30 || secret || RV)
		// Proxy Authen ID 1, section 4.4.5 AVP (M=0)
		0x00, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x20, // Attribute Type 32
		0x00, 0x01, // value
		// Proxy Authen Response "password1234567890" hidden (20-octet subformat: two MD5 blocks), section 4.3 AVP (M=0, H=1)
		0x40, 0x1a, // M H rsvd, Length 26
		0x00, 0x00, // Vendor ID 0
		0x00, 0x21, // Attribute Type 33
		0xd3, 0x81, 0xfb, 0xdf, 0xb6, 0x80, 0xda, 0xec, 0xc2, 0x02, 0xa6, 0x31, 0x5e, 0xda, 0x32, 0xd9, // c(1) = p1 XOR MD5(33 || secret || RV), then c(2) = p2 XOR MD5(secret || c(1))
		0xab, 0x87, 0xb3, 0xd0,
		// Private Group ID, section 4.4.4 AVP (M=0)
		0x00, 0x0a, // M H rsvd, Length 10
		0x00, 0x00, // Vendor ID 0
		0x00, 0x25, // Attribute Type 37
		0x76, 0x70, 0x6e, 0x31, // "vpn1"
		// Rx Connect Speed 50000000, section 4.4.4 AVP (M=0)
		0x00, 0x0a, // M H rsvd, Length 10
		0x00, 0x00, // Vendor ID 0
		0x00, 0x26, // Attribute Type 38
		0x02, 0xfa, 0xf0, 0x80, // value
		// Sequencing Required, section 4.4.4 AVP (M=1)
		0x80, 0x06, // M H rsvd, Length 6
		0x00, 0x00, // Vendor ID 0
		0x00, 0x27, // Attribute Type 39
	},
	"CDN": {
		// header, section 3.1
		0xc8, 0x02, // T=1 L=1 S=1, Ver=2
		0x00, 0x35, // Length 53
		0x00, 0x01, // Tunnel ID
		0x00, 0x11, // Session ID
		0x00, 0x07, // Ns
		0x00, 0x07, // Nr
		// Message Type 14, section 4.4.1 AVP (M=1)
		0x80, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x00, // Attribute Type 0
		0x00, 0x0e, // value
		// Result Code 2 (general error), error 4 (insufficient resources), section 4.4.2 AVP (M=1)
		0x80, 0x0a, // M H rsvd, Length 10
		0x00, 0x00, // Vendor ID 0
		0x00, 0x01, // Attribute Type 1
		0x00, 0x02, 0x00, 0x04, // value
		// Assigned Session ID 0x0022, section 4.4.4 AVP (M=1)
		0x80, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x0e, // Attribute Type 14
		0x00, 0x22, // value
		// Q.931 Cause Code 16, msg 0x45 DISCONNECT, "normal", section 4.4.4 AVP (M=1)
		0x80, 0x0f, // M H rsvd, Length 15
		0x00, 0x00, // Vendor ID 0
		0x00, 0x0c, // Attribute Type 12
		0x00, 0x10, 0x45, 0x6e, 0x6f, 0x72, 0x6d, 0x61, 0x6c, // value
	},
	"WEN": {
		// header, section 3.1
		0xc8, 0x02, // T=1 L=1 S=1, Ver=2
		0x00, 0x34, // Length 52
		0x00, 0x01, // Tunnel ID
		0x00, 0x11, // Session ID
		0x00, 0x08, // Ns
		0x00, 0x07, // Nr
		// Message Type 15, section 4.4.1 AVP (M=1)
		0x80, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x00, // Attribute Type 0
		0x00, 0x0f, // value
		// Call Errors, section 4.4.6 AVP (M=1)
		0x80, 0x20, // M H rsvd, Length 32
		0x00, 0x00, // Vendor ID 0
		0x00, 0x22, // Attribute Type 34
		0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, // reserved 0, CRC 1, Framing 2, Hardware 3, Buffer 4 (first half) ...
		0x00, 0x04, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x06,
	},
	"SLI": {
		// header, section 3.1
		0xc8, 0x02, // T=1 L=1 S=1, Ver=2
		0x00, 0x24, // Length 36
		0x00, 0x02, // Tunnel ID
		0x00, 0x22, // Session ID
		0x00, 0x08, // Ns
		0x00, 0x09, // Nr
		// Message Type 16, section 4.4.1 AVP (M=1)
		0x80, 0x08, // M H rsvd, Length 8
		0x00, 0x00, // Vendor ID 0
		0x00, 0x00, // Attribute Type 0
		0x00, 0x10, // value
		// ACCM, section 4.4.6 AVP (M=1)
		0x80, 0x10, // M H rsvd, Length 16
		0x00, 0x00, // Vendor ID 0
		0x00, 0x23, // Attribute Type 35
		0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, // reserved 0, Send ACCM ffffffff, Receive ACCM 0
	},
}

// Values the generator used, for hiding and the challenge responses.
var goldenSecret = []byte("s3cret")
var goldenResp2 = [16]byte{0xc4, 0xd4, 0x43, 0x48, 0x4e, 0xa2, 0xa0, 0x9f, 0xbd, 0xd4, 0x2e, 0xed, 0x4c, 0xf6, 0x04, 0xb8}
var goldenResp3 = [16]byte{0xaf, 0x68, 0x1a, 0x4a, 0x16, 0xbd, 0x4b, 0x8d, 0x46, 0xdb, 0x0f, 0x30, 0x43, 0xe9, 0xba, 0x38}

// Proxy Authen Name "bob" hidden with 13 octets of padding (0xa5), same secret and RV.
var goldenHiddenPadded = []byte{0xe6, 0x74, 0x10, 0xa0, 0x7f, 0x37, 0x92, 0xf8, 0x9a, 0x5d, 0xc5, 0x2a, 0xc8, 0xd0, 0x4a, 0x0d, 0x05, 0x23}

// ctl is the header of a control message as ParseControl returns it.
func goldenHeader(length, tunnel, session, ns, nr uint16) Header {
	return Header{Control: true, HasLength: true, HasSeq: true, Length: length, TunnelID: tunnel, SessionID: session, Ns: ns, Nr: nr}
}

func asHidden(a AVP) AVP { a.Hidden = true; return a }

// goldenCases pair each golden packet with the header and message it
// carries. Section numbers are those of RFC 2661 section 6.
var goldenCases = []struct {
	name string // key of goldenBytes and the RFC section of the message
	h    Header
	m    *Message
}{
	{
		name: "SCCRQ", // section 6.1
		h:    goldenHeader(116, 0, 0, 0, 0),
		m: &Message{Type: MsgSCCRQ, AVPs: []AVP{
			ProtocolVersion1.AVP(),
			NewAVPString(AVPHostName, "lac1"),
			(FramingSync | FramingAsync).AVP(AVPFramingCapabilities),
			NewAVPUint16(AVPAssignedTunnelID, 1),
			Bearer(0).AVP(AVPBearerCapabilities),
			NewAVPUint16(AVPReceiveWindowSize, 4),
			NewAVPBytes(AVPChallenge, []byte{0xde, 0xad, 0xbe, 0xef}),
			NewAVPUint64(AVPTieBreaker, 0x0102030405060708),
			NewAVPUint16(AVPFirmwareRevision, 0x0100),
			NewAVPString(AVPVendorName, "bras"),
		}},
	},
	{
		name: "SCCRP", // section 6.2
		h:    goldenHeader(125, 1, 0, 0, 1),
		m: &Message{Type: MsgSCCRP, AVPs: []AVP{
			ProtocolVersion1.AVP(),
			FramingSync.AVP(AVPFramingCapabilities),
			NewAVPString(AVPHostName, "lns1"),
			NewAVPUint16(AVPAssignedTunnelID, 2),
			BearerDigital.AVP(AVPBearerCapabilities),
			NewAVPUint16(AVPFirmwareRevision, 1),
			NewAVPString(AVPVendorName, "bras"),
			NewAVPUint16(AVPReceiveWindowSize, 16),
			NewAVPBytes(AVPChallenge, []byte{0xca, 0xfe, 0xba, 0xbe, 0x01}),
			NewAVPBytes(AVPChallengeResponse, goldenResp2[:]),
		}},
	},
	{
		name: "SCCCN", // section 6.3
		h:    goldenHeader(42, 2, 0, 1, 1),
		m: &Message{Type: MsgSCCCN, AVPs: []AVP{
			NewAVPBytes(AVPChallengeResponse, goldenResp3[:]),
		}},
	},
	{
		name: "StopCCN", // section 6.4
		h:    goldenHeader(41, 2, 0, 2, 1),
		m: &Message{Type: MsgStopCCN, AVPs: []AVP{
			NewAVPUint16(AVPAssignedTunnelID, 1),
			ResultCode{Result: uint16(StopCCNGeneralRequest), HasError: true, Message: "bye"}.AVP(),
		}},
	},
	{
		name: "HELLO", // section 6.5
		h:    goldenHeader(20, 2, 0, 3, 2),
		m:    &Message{Type: MsgHELLO},
	},
	{
		name: "OCRQ", // section 6.9
		h:    goldenHeader(99, 1, 0, 4, 3),
		m: &Message{Type: MsgOCRQ, AVPs: []AVP{
			NewAVPUint16(AVPAssignedSessionID, 5),
			NewAVPUint32(AVPCallSerialNumber, 0x01020304),
			NewAVPUint32(AVPMinimumBPS, 9600),
			NewAVPUint32(AVPMaximumBPS, 64000),
			BearerDigital.AVP(AVPBearerType),
			FramingSync.AVP(AVPFramingType),
			NewAVPString(AVPCalledNumber, "5551234"),
			NewAVPString(AVPSubAddress, "12"),
		}},
	},
	{
		name: "OCRP", // section 6.10
		h:    goldenHeader(38, 2, 5, 3, 5),
		m: &Message{Type: MsgOCRP, AVPs: []AVP{
			NewAVPUint16(AVPAssignedSessionID, 6),
			NewAVPUint32(AVPPhysicalChannelID, 3),
		}},
	},
	{
		name: "OCCN", // section 6.11
		h:    goldenHeader(56, 2, 5, 4, 5),
		m: &Message{Type: MsgOCCN, AVPs: []AVP{
			NewAVPUint32(AVPTxConnectSpeed, 64000),
			FramingSync.AVP(AVPFramingType),
			NewAVPUint32(AVPRxConnectSpeed, 56000),
			NewAVPBytes(AVPSequencingRequired, nil),
		}},
	},
	{
		name: "ICRQ", // section 6.6
		h:    goldenHeader(109, 2, 0, 5, 5),
		m: &Message{Type: MsgICRQ, AVPs: []AVP{
			NewAVPUint16(AVPAssignedSessionID, 0x11),
			NewAVPUint32(AVPCallSerialNumber, 1),
			BearerAnalog.AVP(AVPBearerType),
			NewAVPUint32(AVPPhysicalChannelID, 7),
			NewAVPString(AVPCallingNumber, "00:11:22:33:44:55"),
			NewAVPString(AVPCalledNumber, "lac1"),
			NewAVPString(AVPSubAddress, "eth0"),
			{VendorID: 9, Type: 14, Value: []byte{1, 2}},
		}},
	},
	{
		name: "ICRP", // section 6.7
		h:    goldenHeader(28, 1, 0x11, 6, 6),
		m: &Message{Type: MsgICRP, AVPs: []AVP{
			NewAVPUint16(AVPAssignedSessionID, 0x22),
		}},
	},
	{
		name: "ICCN", // section 6.8, with hidden proxy authentication (section 4.3)
		h:    goldenHeader(191, 2, 0x22, 6, 7),
		m: &Message{Type: MsgICCN, AVPs: []AVP{
			NewAVPUint32(AVPTxConnectSpeed, 100000000),
			FramingSync.AVP(AVPFramingType),
			NewAVPBytes(AVPInitialRecvLCPConfReq, []byte{0x01, 0x04, 0x05, 0xd4, 0x05, 0x06, 0x11, 0x22, 0x33, 0x44}),
			NewAVPBytes(AVPLastSentLCPConfReq, []byte{0x03, 0x04, 0xc0, 0x23, 0x05, 0x06, 0xaa, 0xbb, 0xcc, 0xdd}),
			NewAVPBytes(AVPLastRecvLCPConfReq, []byte{0x01, 0x04, 0x05, 0xd4, 0x05, 0x06, 0x11, 0x22, 0x33, 0x44}),
			ProxyAuthenPAP.AVP(),
			NewAVPBytes(AVPRandomVector, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}),
			asHidden(NewAVPString(AVPProxyAuthenName, "alice")),
			NewAVPProxyAuthenID(1),
			asHidden(NewAVPString(AVPProxyAuthenResponse, "password1234567890")),
			NewAVPString(AVPPrivateGroupID, "vpn1"),
			NewAVPUint32(AVPRxConnectSpeed, 50000000),
			NewAVPBytes(AVPSequencingRequired, nil),
		}},
	},
	{
		name: "CDN", // section 6.12
		h:    goldenHeader(53, 1, 0x11, 7, 7),
		m: &Message{Type: MsgCDN, AVPs: []AVP{
			ResultCode{Result: uint16(CDNGeneralError), Error: uint16(ErrorInsufficientResources), HasError: true}.AVP(),
			NewAVPUint16(AVPAssignedSessionID, 0x22),
			Q931Cause{Cause: 16, Msg: 0x45, Advisory: "normal"}.AVP(),
		}},
	},
	{
		name: "WEN", // section 6.13
		h:    goldenHeader(52, 1, 0x11, 8, 7),
		m: &Message{Type: MsgWEN, AVPs: []AVP{
			CallErrors{CRC: 1, Framing: 2, HardwareOverruns: 3, BufferOverruns: 4, Timeout: 5, Alignment: 6}.AVP(),
		}},
	},
	{
		name: "SLI", // section 6.14
		h:    goldenHeader(36, 2, 0x22, 8, 9),
		m: &Message{Type: MsgSLI, AVPs: []AVP{
			ACCM{Send: 0xffffffff, Recv: 0}.AVP(),
		}},
	},
	{
		name: "ZLB", // section 5.8: a control header and nothing else
		h:    goldenHeader(12, 2, 0, 9, 9),
	},
}

func init() {
	goldenBytes["ZLB"] = []byte{
		0xc8, 0x02, // T=1 L=1 S=1, Ver=2
		0x00, 0x0c, // Length 12: header only
		0x00, 0x02, // Tunnel ID
		0x00, 0x00, // Session ID
		0x00, 0x09, // Ns: the next message's, not incremented by a ZLB
		0x00, 0x09, // Nr
	}
}

func TestGoldenParse(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			h, m, err := ParseControl(goldenBytes[tc.name], goldenSecret)
			if err != nil {
				t.Fatalf("ParseControl: %v", err)
			}
			if diff := cmp.Diff(tc.h, h); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.m, m); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
			if m != nil {
				if err := m.Validate(); err != nil {
					t.Errorf("Validate: %v", err)
				}
			}
		})
	}
}

func TestGoldenAppend(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h
			h.Length = 0 // computed by AppendControl
			prefix := []byte{0xaa, 0xbb}
			b, err := AppendControl(prefix, h, tc.m, goldenSecret, noRandom{})
			if err != nil {
				t.Fatalf("AppendControl: %v", err)
			}
			if diff := cmp.Diff(goldenBytes[tc.name], b[len(prefix):]); diff != "" {
				t.Errorf("AppendControl (-want +got):\n%s", diff)
			}
			if !bytes.Equal(b[:len(prefix)], []byte{0xaa, 0xbb}) {
				t.Errorf("AppendControl overwrote the prefix: % x", b[:len(prefix)])
			}
		})
	}
}

// noRandom fails every read: the golden messages carry their Random
// Vector, so Append must not need randomness.
type noRandom struct{}

func (noRandom) Read([]byte) (int, error) { return 0, errors.New("no randomness expected") }

func TestGoldenValues(t *testing.T) {
	get := func(name string, typ AVPType) []byte {
		t.Helper()
		_, m, err := ParseControl(goldenBytes[name], goldenSecret)
		if err != nil {
			t.Fatal(err)
		}
		a, ok := m.Find(typ)
		if !ok {
			t.Fatalf("%s has no %s", name, typ)
		}
		return a.Value
	}
	if got, err := ParseResultCode(get("StopCCN", AVPResultCode)); err != nil || got != (ResultCode{Result: 1, HasError: true, Message: "bye"}) {
		t.Errorf("StopCCN Result Code = %+v, %v", got, err)
	}
	if got, err := ParseResultCode(get("CDN", AVPResultCode)); err != nil || got != (ResultCode{Result: 2, Error: 4, HasError: true}) {
		t.Errorf("CDN Result Code = %+v, %v", got, err)
	}
	if got, err := ParseQ931Cause(get("CDN", AVPQ931Cause)); err != nil || got != (Q931Cause{Cause: 16, Msg: 0x45, Advisory: "normal"}) {
		t.Errorf("CDN Q.931 Cause = %+v, %v", got, err)
	}
	if got, err := ParseCallErrors(get("WEN", AVPCallErrors)); err != nil || got != (CallErrors{1, 2, 3, 4, 5, 6}) {
		t.Errorf("WEN Call Errors = %+v, %v", got, err)
	}
	if got, err := ParseACCM(get("SLI", AVPACCM)); err != nil || got != (ACCM{Send: 0xffffffff}) {
		t.Errorf("SLI ACCM = %+v, %v", got, err)
	}
	if got, err := ParseProtocolVersion(get("SCCRQ", AVPProtocolVersion)); err != nil || got != ProtocolVersion1 {
		t.Errorf("SCCRQ Protocol Version = %v, %v", got, err)
	}
	if got, err := ParseFraming(get("SCCRQ", AVPFramingCapabilities)); err != nil || got != FramingSync|FramingAsync {
		t.Errorf("SCCRQ Framing Capabilities = %v, %v", got, err)
	}
	if got, err := ParseBearer(get("ICRQ", AVPBearerType)); err != nil || got != BearerAnalog {
		t.Errorf("ICRQ Bearer Type = %v, %v", got, err)
	}
	if got, err := ParseProxyAuthenType(get("ICCN", AVPProxyAuthenType)); err != nil || got != ProxyAuthenPAP {
		t.Errorf("ICCN Proxy Authen Type = %v, %v", got, err)
	}
	if got, err := ParseProxyAuthenID(get("ICCN", AVPProxyAuthenID)); err != nil || got != 1 {
		t.Errorf("ICCN Proxy Authen ID = %v, %v", got, err)
	}
	// Section 4.1: a vendor AVP sharing number 14 is not the Assigned
	// Session ID.
	_, m, _ := ParseControl(goldenBytes["ICRQ"], nil)
	if a, _ := m.Find(AVPAssignedSessionID); a.VendorID != 0 || !bytes.Equal(a.Value, []byte{0, 0x11}) {
		t.Errorf("Find(AssignedSessionID) = %+v, want the IETF one", a)
	}
}

// TestChallengeResponse checks the tunnel authentication of RFC 2661
// sections 4.2 and 5.1.1 against MD5 values computed independently by
// testdata/golden_gen.py.
func TestMessageChallengeResponse(t *testing.T) {
	if got := ChallengeResponse(MsgSCCRP, goldenSecret, []byte{0xde, 0xad, 0xbe, 0xef}); got != goldenResp2 {
		t.Errorf("SCCRP response = % x, want % x", got, goldenResp2)
	}
	if got := ChallengeResponse(MsgSCCCN, goldenSecret, []byte{0xca, 0xfe, 0xba, 0xbe, 0x01}); got != goldenResp3 {
		t.Errorf("SCCCN response = % x, want % x", got, goldenResp3)
	}
	if ChallengeResponse(MsgSCCRP, []byte("other"), []byte{0xde, 0xad, 0xbe, 0xef}) == goldenResp2 {
		t.Error("a different secret gives the same response")
	}
}

func TestMessageParseControlRejectsData(t *testing.T) {
	b := []byte{0x00, 0x02, 0, 1, 0, 1, 0xff, 0x03}
	if _, _, err := ParseControl(b, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("ParseControl(data) = %v, want ErrMalformed", err)
	}
}

func FuzzParseMessage(f *testing.F) {
	for _, tc := range goldenCases {
		f.Add(goldenBytes[tc.name])
	}
	f.Add(joinWire(goldenBytes["HELLO"][:2], []byte{0, 29}, goldenBytes["HELLO"][4:], wireAVP(0x80, 9, 1, []byte("v"))))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, m, err := ParseControl(b, goldenSecret)
		var um *UnknownMandatoryAVPError
		var ut *UnknownMessageError
		switch {
		case err == nil, errors.As(err, &um):
		case errors.As(err, &ut):
			return // nothing past the Message Type was decoded
		case errors.Is(err, ErrShort), errors.Is(err, ErrMalformed), errors.Is(err, ErrNoRandomVector):
			return
		default:
			t.Fatalf("unexpected error kind: %v", err)
		}
		if m != nil {
			// Validate may refuse, never panic; it may drop AVPs, so on a
			// copy.
			c := *m
			_ = c.Validate()
		}
		out, err := AppendControl(nil, h, m, goldenSecret, bytes.NewReader(make([]byte, 64)))
		if err != nil {
			t.Fatalf("AppendControl(%+v, %+v): %v", h, m, err)
		}
		h2, m2, err2 := ParseControl(out, goldenSecret)
		// Unknown mandatory AVPs are kept and reported again, except those
		// with reserved bits set: they are dropped (section 4.1), so the
		// re-encoded message may report a later one, or none.
		var um2 *UnknownMandatoryAVPError
		if err2 != nil && (!errors.As(err2, &um2) || um == nil) {
			t.Fatalf("re-parse error %v, first parse %v", err2, um)
		}
		h.Length = h2.Length // Length is recomputed; trailing octets dropped
		if diff := cmp.Diff(h, h2); diff != "" {
			t.Fatalf("header round trip (-first +second):\n%s", diff)
		}
		if diff := cmp.Diff(m, m2); diff != "" {
			t.Fatalf("message round trip (-first +second):\n%s", diff)
		}
	})
}

func BenchmarkParseICRQ(b *testing.B) {
	pkt := goldenBytes["ICRQ"]
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if _, _, err := ParseControl(pkt, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendICRQ(b *testing.B) {
	var m *Message
	for _, tc := range goldenCases {
		if tc.name == "ICRQ" {
			m = tc.m
		}
	}
	h := Header{TunnelID: 2, Ns: 5, Nr: 5}
	buf := make([]byte, 0, 1500)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := AppendControl(buf[:0], h, m, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// TestGoldenTruncated cuts every golden packet at every length, both as
// received (Length now past the datagram) and with Length rewritten to the
// cut (AVPs cut short): a sentinel error or, at an AVP boundary, a shorter
// valid message; never a panic.
func TestGoldenTruncated(t *testing.T) {
	for _, tc := range goldenCases {
		full := goldenBytes[tc.name]
		for n := range len(full) {
			if _, _, err := ParseControl(full[:n], goldenSecret); !errors.Is(err, ErrShort) {
				t.Errorf("%s cut at %d: %v, want ErrShort", tc.name, n, err)
			}
			if n < ControlHeaderLen {
				continue
			}
			b := append([]byte{}, full[:n]...)
			b[2], b[3] = byte(n>>8), byte(n)
			_, m, err := ParseControl(b, goldenSecret)
			switch {
			case err == nil:
				if n > ControlHeaderLen && (m == nil || m.Type != tc.m.Type || len(m.AVPs) >= len(tc.m.AVPs)) {
					t.Errorf("%s cut at %d parsed as %+v", tc.name, n, m)
				}
			case !errors.Is(err, ErrShort) && !errors.Is(err, ErrMalformed):
				t.Errorf("%s cut at %d with Length %d: %v wraps no sentinel", tc.name, n, n, err)
			}
		}
	}
}

// wiresharkNames are the names Wireshark's dissector gives the messages.
var wiresharkNames = map[string]string{
	"SCCRQ": "Start_Control_Request", "SCCRP": "Start_Control_Reply", "SCCCN": "Start_Control_Connected",
	"StopCCN": "Stop_Control_Notification", "HELLO": "Hello", "OCRQ": "Outgoing_Call_Request",
	"OCRP": "Outgoing_Call_Reply", "OCCN": "Outgoing_Call_Connected", "ICRQ": "Incoming_Call_Request",
	"ICRP": "Incoming_Call_Reply", "ICCN": "Incoming_Call_Connected", "CDN": "Call_Disconnect_Notification",
	"WEN": "WAN_Error_Notify", "SLI": "Set_Link_Info",
}

// TestGoldenTshark hands every golden packet, in a UDP/1701 capture, to
// Wireshark's L2TP dissector (an implementation written independently of
// this one) and requires that it finds the message type we meant and
// nothing malformed (DESIGN.md section 7).
func TestGoldenTshark(t *testing.T) {
	tshark := testenv.RequireCommand(t, "tshark")
	var pcap []byte
	pcap = binary.LittleEndian.AppendUint32(pcap, 0xa1b2c3d4) // magic
	pcap = binary.LittleEndian.AppendUint16(pcap, 2)          // version 2.4
	pcap = binary.LittleEndian.AppendUint16(pcap, 4)
	pcap = binary.LittleEndian.AppendUint64(pcap, 0)     // zone, sigfigs
	pcap = binary.LittleEndian.AppendUint32(pcap, 65535) // snaplen
	pcap = binary.LittleEndian.AppendUint32(pcap, 101)   // LINKTYPE_RAW: IPv4
	for i, tc := range goldenCases {
		l2 := goldenBytes[tc.name]
		ip := []byte{
			0x45, 0x00, 0, 0, // version, IHL, TOS, total length (below)
			0, byte(i), 0, 0, // ID, flags, fragment
			64, 17, 0, 0, // TTL, UDP, checksum (below)
			127, 0, 0, 1, 127, 0, 0, 2,
		}
		binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(l2)))
		var sum uint32
		for j := 0; j < 20; j += 2 {
			sum += uint32(binary.BigEndian.Uint16(ip[j:]))
		}
		sum = sum>>16 + sum&0xffff
		binary.BigEndian.PutUint16(ip[10:], ^uint16(sum+sum>>16))
		udp := []byte{0x06, 0xa5, 0x06, 0xa5, 0, 0, 0, 0} // 1701 -> 1701, checksum 0
		binary.BigEndian.PutUint16(udp[4:], uint16(8+len(l2)))
		pkt := joinWire(ip, udp, l2)
		pcap = binary.LittleEndian.AppendUint32(pcap, uint32(i)) // seconds
		pcap = binary.LittleEndian.AppendUint32(pcap, 0)
		pcap = binary.LittleEndian.AppendUint32(pcap, uint32(len(pkt)))
		pcap = binary.LittleEndian.AppendUint32(pcap, uint32(len(pkt)))
		pcap = append(pcap, pkt...)
	}
	file := filepath.Join(t.TempDir(), "golden.pcap")
	if err := os.WriteFile(file, pcap, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tshark, "-n", "-r", file, "-V").CombinedOutput()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	text := string(out)
	for _, bad := range []string{"Malformed", "Expert Info (Error", "Expert Info (Warning"} {
		if strings.Contains(text, bad) {
			t.Errorf("tshark reports %q:\n%s", bad, text)
		}
	}
	// One "Frame N:" section per packet, each naming its message.
	frames := strings.Split("\n"+string(out), "\nFrame ")[1:]
	if len(frames) != len(goldenCases) {
		t.Fatalf("tshark decoded %d frames, want %d", len(frames), len(goldenCases))
	}
	for i, tc := range goldenCases {
		var want string
		if tc.m == nil {
			want = "Length: 12\n" // ZLB: a header, no AVP
		} else {
			want = fmt.Sprintf("Message Type: %s (%d)\n", wiresharkNames[tc.name], tc.m.Type)
		}
		if !strings.Contains(frames[i], want) {
			t.Errorf("frame %d: tshark does not see %q:\n%s", i+1, want, frames[i])
		}
	}
}

func TestMessageAllows(t *testing.T) {
	// Every IETF AVP of every golden message is one section 6 lists for it.
	for _, tc := range goldenCases {
		if tc.m == nil {
			continue
		}
		for _, a := range tc.m.AVPs {
			if a.VendorID == 0 && !tc.m.Type.Allows(a.Type) {
				t.Errorf("%s: %s not allowed", tc.m.Type, a.Type)
			}
		}
	}
	for _, tc := range []struct {
		m    MsgType
		a    AVPType
		want bool
	}{
		{MsgSCCRQ, AVPTieBreaker, true},        // 6.1
		{MsgSCCRP, AVPTieBreaker, false},       // 6.2
		{MsgSCCCN, AVPChallengeResponse, true}, // 6.3
		{MsgICRP, AVPHostName, false},          // 6.7
		{MsgHELLO, AVPRandomVector, true},      // 4.4.1: any message
		{MsgCDN, AVPQ931Cause, true},           // 6.12
		{MsgType(5), AVPRandomVector, false},
	} {
		if got := tc.m.Allows(tc.a); got != tc.want {
			t.Errorf("%s.Allows(%s) = %v, want %v", tc.m, tc.a, got, tc.want)
		}
	}
}

// ExampleAppendControl shows one exchange of section 5.1 as an LNS sees it: parse an
// SCCRQ, check it, answer with an SCCRP carrying the challenge response.
func ExampleAppendControl() {
	secret := []byte("s3cret")
	_, sccrq, err := ParseControl(goldenBytes["SCCRQ"], secret)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := sccrq.Validate(); err != nil {
		fmt.Println(err) // send StopCCN with err's Result()
		return
	}
	peerTunnel, _ := exampleFind(sccrq, AVPAssignedTunnelID).Uint16()
	challenge := exampleFind(sccrq, AVPChallenge).Value
	resp := ChallengeResponse(MsgSCCRP, secret, challenge)

	sccrp := &Message{Type: MsgSCCRP}
	sccrp.Add(ProtocolVersion1.AVP())
	sccrp.Add(FramingSync.AVP(AVPFramingCapabilities))
	sccrp.Add(NewAVPString(AVPHostName, "lns1"))
	sccrp.Add(NewAVPUint16(AVPAssignedTunnelID, 2))
	sccrp.Add(NewAVPBytes(AVPChallengeResponse, resp[:]))
	pkt, err := AppendControl(nil, Header{TunnelID: peerTunnel, Nr: 1}, sccrp, secret, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("SCCRP of %d octets to tunnel %d\n", len(pkt), peerTunnel)
	// Output: SCCRP of 78 octets to tunnel 1
}

func exampleFind(m *Message, t AVPType) AVP {
	a, ok := m.Find(t)
	if !ok {
		panic("no " + t.String())
	}
	return a
}
