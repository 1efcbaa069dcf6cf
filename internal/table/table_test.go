package table

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWrite(t *testing.T) {
	tb := &Table{Columns: []string{"user", "octets"}, Rows: [][]string{{"alice", "10"}, {"bob, jr", "2"}}}
	tests := []struct {
		name string
		f    Format
		want string
	}{
		{"text", Text, "user     octets\nalice    10\nbob, jr  2\n"},
		{"csv", CSV, "user,octets\nalice,10\n\"bob, jr\",2\n"},
		{"json", JSON, "[\n  {\n    \"octets\": \"10\",\n    \"user\": \"alice\"\n  },\n  {\n    \"octets\": \"2\",\n    \"user\": \"bob, jr\"\n  }\n]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tb.Write(&b, tt.f); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, b.String()); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	if _, err := ParseFormat("xml"); err == nil {
		t.Error("ParseFormat(xml) succeeded")
	}
}
