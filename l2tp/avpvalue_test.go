package l2tp

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// valueAppender is what every structured AVP value implements.
type valueAppender interface {
	Append(b []byte) ([]byte, error)
}

// TestAVPValues runs every structured value of RFC 2661 section 4.4 both
// ways against bytes laid out by hand from its figure.
func TestAVPValues(t *testing.T) {
	tests := []struct {
		name  string
		b     []byte
		v     valueAppender
		parse func([]byte) (valueAppender, error)
	}{
		{
			name:  "Result Code, result only, section 4.4.2",
			b:     []byte{0x00, 0x01}, // Result Code 1
			v:     ResultCode{Result: 1},
			parse: func(b []byte) (valueAppender, error) { return ParseResultCode(b) },
		},
		{
			name: "Result Code with error code, section 4.4.2",
			b: []byte{
				0x00, 0x02, // Result Code 2
				0x00, 0x00, // Error Code 0
			},
			v:     ResultCode{Result: 2, HasError: true},
			parse: func(b []byte) (valueAppender, error) { return ParseResultCode(b) },
		},
		{
			name: "Result Code with error message, section 4.4.2",
			b: []byte{
				0x00, 0x05, // Result Code 5 (version not supported)
				0x00, 0x01, // Error Code: highest version supported
				'v', '1', // Error Message
			},
			v:     ResultCode{Result: 5, Error: 1, HasError: true, Message: "v1"},
			parse: func(b []byte) (valueAppender, error) { return ParseResultCode(b) },
		},
		{
			name:  "Protocol Version, section 4.4.3",
			b:     []byte{0x01, 0x00}, // Ver 1, Rev 0
			v:     ProtocolVersion1,
			parse: func(b []byte) (valueAppender, error) { return ParseProtocolVersion(b) },
		},
		{
			name:  "Framing Capabilities A|S, section 4.4.3",
			b:     []byte{0x00, 0x00, 0x00, 0x03}, // reserved ... A S
			v:     FramingAsync | FramingSync,
			parse: func(b []byte) (valueAppender, error) { return ParseFraming(b) },
		},
		{
			name:  "Bearer Capabilities A, section 4.4.3",
			b:     []byte{0x00, 0x00, 0x00, 0x02}, // reserved ... A D
			v:     BearerAnalog,
			parse: func(b []byte) (valueAppender, error) { return ParseBearer(b) },
		},
		{
			name: "Q.931 Cause Code without advisory, section 4.4.4",
			b: []byte{
				0x00, 0x1f, // Cause Code 31
				0x5a, // Cause Msg
			},
			v:     Q931Cause{Cause: 31, Msg: 0x5a},
			parse: func(b []byte) (valueAppender, error) { return ParseQ931Cause(b) },
		},
		{
			name:  "Proxy Authen Type MSCHAPv1, section 4.4.5",
			b:     []byte{0x00, 0x05},
			v:     ProxyAuthenMSCHAPv1,
			parse: func(b []byte) (valueAppender, error) { return ParseProxyAuthenType(b) },
		},
		{
			name: "Call Errors, section 4.4.6",
			b: []byte{
				0x00, 0x00, // Reserved
				0x00, 0x00, 0x00, 0x0a, // CRC Errors
				0x00, 0x00, 0x00, 0x00, // Framing Errors
				0x00, 0x00, 0x01, 0x00, // Hardware Overruns
				0x00, 0x00, 0x00, 0x00, // Buffer Overruns
				0xff, 0xff, 0xff, 0xff, // Time-out Errors
				0x00, 0x00, 0x00, 0x07, // Alignment Errors
			},
			v:     CallErrors{CRC: 10, HardwareOverruns: 256, Timeout: 0xffffffff, Alignment: 7},
			parse: func(b []byte) (valueAppender, error) { return ParseCallErrors(b) },
		},
		{
			name: "ACCM, section 4.4.6",
			b: []byte{
				0x00, 0x00, // Reserved
				0x00, 0x0a, 0x00, 0x00, // Send ACCM
				0xff, 0xff, 0xff, 0xff, // Receive ACCM
			},
			v:     ACCM{Send: 0x000a0000, Recv: 0xffffffff},
			parse: func(b []byte) (valueAppender, error) { return ParseACCM(b) },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.parse(tc.b)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tc.v, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
			b, err := tc.v.Append([]byte{0xee})
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if diff := cmp.Diff(append([]byte{0xee}, tc.b...), b); diff != "" {
				t.Errorf("Append (-want +got):\n%s", diff)
			}
			// Every size but the right ones is refused with a sentinel.
			for n := 0; n < len(tc.b); n++ {
				if _, err := tc.parse(tc.b[:n]); err == nil && !variableSize(tc.name, n) {
					t.Errorf("Parse of %d octets succeeded", n)
				} else if err != nil && !errors.Is(err, ErrShort) && !errors.Is(err, ErrMalformed) {
					t.Errorf("Parse of %d octets: %v wraps no sentinel", n, err)
				}
			}
			if !variableSize(tc.name, len(tc.b)+1) {
				if _, err := tc.parse(append(tc.b, 0)); !errors.Is(err, ErrMalformed) {
					t.Errorf("Parse of %d octets = %v, want ErrMalformed", len(tc.b)+1, err)
				}
			}
		})
	}
}

// variable reports whether a value of n octets is a valid size of the
// variable-length values in TestAVPValues.
func variableSize(name string, n int) bool {
	switch {
	case strings.HasPrefix(name, "Result Code"):
		return n == 2 || n >= 4
	case strings.HasPrefix(name, "Q.931"):
		return n >= 3
	}
	return false
}

func TestAVPResultCodeMessageWithoutErrorFlag(t *testing.T) {
	// The Error Message can only follow an Error Code (section 4.4.2).
	b, err := ResultCode{Result: 1, Message: "x"}.Append(nil)
	if err != nil || string(b) != "\x00\x01\x00\x00x" {
		t.Errorf("Append = % x, %v", b, err)
	}
	if _, err := (ResultCode{Message: strings.Repeat("x", 1014)}).Append(nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("Append of a 1014-octet message = %v", err)
	}
	if a := (ResultCode{Result: 2, Message: strings.Repeat("x", 2000)}).AVP(); len(a.Value) != 1017 || !a.Mandatory {
		t.Errorf("AVP() of a long message: %d octets, M=%v", len(a.Value), a.Mandatory)
	}
}

func TestAVPResultCodeDescribe(t *testing.T) {
	tests := []struct {
		r    ResultCode
		t    MsgType
		want string
	}{
		{ResultCode{Result: 4}, MsgStopCCN, "NotAuthorized"},
		{ResultCode{Result: 3}, MsgCDN, "Admin"},
		{ResultCode{Result: 2, Error: 8, HasError: true, Message: "AVP 99"}, MsgCDN, `GeneralError/UnknownMandatoryAVP: "AVP 99"`},
		{ResultCode{Result: 42, Error: 99, HasError: true}, MsgStopCCN, "StopCCNResult(42)/ErrorCode(99)"},
	}
	for _, tc := range tests {
		if got := tc.r.Describe(tc.t); got != tc.want {
			t.Errorf("%+v.Describe(%s) = %q, want %q", tc.r, tc.t, got, tc.want)
		}
	}
}

func TestAVPProxyAuthenID(t *testing.T) {
	a := NewAVPProxyAuthenID(0x42)
	if id, err := ParseProxyAuthenID(a.Value); err != nil || id != 0x42 || a.Mandatory {
		t.Errorf("Proxy Authen ID = %#x, %v, M=%v", id, err, a.Mandatory)
	}
	if _, err := ParseProxyAuthenID([]byte{1, 0x42}); !errors.Is(err, ErrMalformed) {
		t.Errorf("reserved octet set: %v", err)
	}
}

func TestMessageAndAVPStrings(t *testing.T) {
	tests := []struct{ got, want string }{
		{MsgSCCRQ.String(), "SCCRQ"},
		{MsgStopCCN.String(), "StopCCN"},
		{MsgSLI.String(), "SLI"},
		{MsgType(5).String(), "MsgType(5)"},
		{MsgType(99).String(), "MsgType(99)"},
		{AVPMessageType.String(), "MessageType"},
		{AVPSequencingRequired.String(), "SequencingRequired"},
		{AVPType(20).String(), "AVPType(20)"},
		{AVPType(40).String(), "AVPType(40)"},
		{(FramingSync | FramingAsync).String(), "Sync|Async"},
		{Framing(0x10).String(), "Framing(0x10)"},
		{(BearerDigital | 4).String(), "Digital|Bearer(0x4)"},
		{Bearer(0).String(), "0"},
		{ProxyAuthenCHAP.String(), "CHAP"},
		{ProxyAuthenType(0).String(), "ProxyAuthenType(0)"},
		{StopCCNFSMError.String(), "FSMError"},
		{CDNNoFraming.String(), "NoFraming"},
		{CDNResult(0).String(), "CDNResult(0)"},
		{ErrorUnknownMandatoryAVP.String(), "UnknownMandatoryAVP"},
		{ProtocolVersion1.String(), "1.0"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	// Every message type and AVP of the RFC has a name.
	for _, m := range []MsgType{1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16} {
		if strings.HasPrefix(m.String(), "MsgType(") || !m.Known() {
			t.Errorf("message type %d has no name", m)
		}
	}
	for a := AVPType(0); a <= 39; a++ {
		if named := !strings.HasPrefix(a.String(), "AVPType("); named != (a != 20) || a.Known() != named {
			t.Errorf("AVP type %d: name %q, Known %v", a, a, a.Known())
		}
	}
}
