package load_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bras-project/bras/internal/load"
	"github.com/bras-project/bras/internal/load/loadtest"
)

// brasBinary returns the bras binary: $BRAS_BIN, or one built from the
// module for this test.
func brasBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("BRAS_BIN"); p != "" {
		return p
	}
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "bras")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/bras")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/bras: %v\n%s", err, out)
	}
	return bin
}

// TestNetnsCommand runs `bras load` as a lab script would: the exit status
// says whether the run met its thresholds, the JSON report is written to
// the file, and a progress line goes to stderr.
func TestNetnsCommand(t *testing.T) {
	l := newLab(t, loadtest.Config{})
	bin := brasBinary(t)
	dir := t.TempDir()

	report := filepath.Join(dir, "ok.json")
	cmd := l.sub.Command(bin, "load", "-iface", "sub0", "-n", "20", "-rate", "500", "-inflight", "10",
		"-user", "cli%d@lab", "-password", labPassword, "-auth", "mixed",
		"-traffic-target", echoTarget.String(), "-traffic-pps", "20", "-hold", "1200ms", "-json", report)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("bras load: %v\n%s", err, stderr.String())
	}
	var rep load.Report
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, b)
	}
	if rep.Up != 20 || rep.Failed != 0 || rep.Traffic == nil || rep.Traffic.Sent == 0 || rep.Traffic.Lost != 0 {
		t.Errorf("report: %s", b)
	}
	if !strings.Contains(stderr.String(), "up 20") || !strings.Contains(stderr.String(), "/s") {
		t.Errorf("no progress line on stderr:\n%s", stderr.String())
	}

	// A wrong password: exit status 1, and the report says why.
	report = filepath.Join(dir, "bad.json")
	cmd = l.sub.Command(bin, "load", "-iface", "sub0", "-n", "2", "-mac-base", "02:00:00:10:00:00",
		"-user", "cli%d@lab", "-password", "wrong", "-auth", "pap", "-json", report, "-q")
	stderr.Reset()
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("bras load with a wrong password: %v, want exit status 1\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "auth-failed") {
		t.Errorf("stderr does not give the reason:\n%s", stderr.String())
	}
	b, _ = os.ReadFile(report)
	if err := json.Unmarshal(b, &rep); err != nil || rep.Failed != 2 || rep.Failures["auth-failed"] != 2 {
		t.Errorf("report (%v): %s", err, b)
	}
}

// TestNetnsCommandIPv6 runs `bras load -ipv6`: the JSON report has the
// IPv6 set-ups and the traffic per family; against an access
// concentrator that grants no IPv6 the run fails with the reason.
func TestNetnsCommandIPv6(t *testing.T) {
	bin := brasBinary(t)
	dir := t.TempDir()
	for _, grant := range []bool{true, false} {
		l := newLab(t, loadtest.Config{IPv6: grant, RapidCommit6: true})
		report := filepath.Join(dir, "ipv6.json")
		cmd := l.sub.Command(bin, "load", "-iface", "sub0", "-n", "10", "-user", "six%d@lab", "-password", labPassword,
			"-ipv6", "-traffic-target", echoTarget.String(), "-traffic-target6", echoTarget6.String(),
			"-traffic-pps", "20", "-hold", "1s", "-json", report, "-q")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		b, rerr := os.ReadFile(report)
		if rerr != nil {
			t.Fatal(rerr)
		}
		var m struct {
			IPv6 struct {
				Up       int            `json:"up"`
				Failed   int            `json:"failed"`
				Failures map[string]int `json:"failures"`
			} `json:"ipv6"`
			Traffic struct {
				IPv4, IPv6 struct {
					Sent, Received, Lost uint64
					SentOctets           uint64 `json:"sent_octets"`
					ReceivedOctets       uint64 `json:"received_octets"`
				}
			} `json:"traffic"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("report: %v\n%s", err, b)
		}
		if !grant {
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "IPv6 set-ups failed") {
				t.Errorf("bras load -ipv6 without IPv6 granted: %v, want exit status 1 with the reason\n%s", err, stderr.String())
			}
			if m.IPv6.Failures["ipv6cp-refused"] != 10 {
				t.Errorf("IPv6 failures %v, want 10 ipv6cp-refused", m.IPv6.Failures)
			}
			continue
		}
		if err != nil {
			t.Fatalf("bras load -ipv6: %v\n%s", err, stderr.String())
		}
		f4, f6 := m.Traffic.IPv4, m.Traffic.IPv6
		if m.IPv6.Up != 10 || f6.Sent == 0 || f6.Received != f6.Sent || f6.SentOctets != f6.Sent*84 ||
			f4.Sent == 0 || f4.Received != f4.Sent || f4.ReceivedOctets != f4.Received*64 {
			t.Errorf("report: %s", b)
		}
	}
}
