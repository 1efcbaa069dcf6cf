package accounting

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bras-project/bras/internal/testenv"
)

func seqRecords(from, n int) []Record {
	out := make([]Record, n)
	for i := range out {
		out[i] = sess(fmt.Sprintf("s%d", from+i), "u", 0, Start, t0, 0, 0)
	}
	return out
}

// drain reads the spool to the end in batches of max, committing each.
func drain(t *testing.T, s *Spool, max int) []string {
	t.Helper()
	var ids []string
	for {
		recs, c, err := s.Read(max)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return ids
		}
		for _, r := range recs {
			ids = append(ids, r.SessionID)
		}
		if err := s.Commit(c); err != nil {
			t.Fatal(err)
		}
	}
}

func wantIDs(from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("s%d", from+i)
	}
	return out
}

func TestSpoolOrderAcrossSegmentsAndRestart(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSpool(dir, 4096) // a few dozen records per segment
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := s.Append(seqRecords(i*50, 50)); err != nil {
			t.Fatal(err)
		}
	}
	// Read part, commit, "crash" (no Close) and reopen: the rest follows.
	recs, c, err := s.Read(120)
	if err != nil || len(recs) != 120 {
		t.Fatalf("Read = %d, %v", len(recs), err)
	}
	if err := s.Commit(c); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	s2, err := OpenSpool(dir, 4096)
	if err != nil {
		t.Fatal(err)
	}
	got := drain(t, s2, 77)
	if want := wantIDs(120, 380); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after restart got %d records %v..., want s120..s499", len(got), got[:min(3, len(got))])
	}
	after, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if len(segs) < 5 || len(after) != 1 {
		t.Errorf("segments before %d, after draining %d; want several, then 1", len(segs), len(after))
	}
	if s2.Pending() != 0 {
		t.Errorf("Pending = %d after draining", s2.Pending())
	}
	// A new append after draining is read next.
	if err := s2.Append(seqRecords(500, 1)); err != nil {
		t.Fatal(err)
	}
	if got := drain(t, s2, 10); fmt.Sprint(got) != "[s500]" {
		t.Errorf("got %v, want [s500]", got)
	}
}

func TestSpoolTornTail(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSpool(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(seqRecords(0, 3)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// A crash in the middle of a write leaves half a frame.
	seg := filepath.Join(dir, fmt.Sprintf("%016d%s", 1, segSuffix))
	f, err := os.OpenFile(seg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0, 0, 1, 0, 0xde, 0xad})
	f.Close()
	s2, err := OpenSpool(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Append(seqRecords(3, 2)); err != nil {
		t.Fatal(err)
	}
	if got, want := drain(t, s2, 100), wantIDs(0, 5); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if s2.Corrupt() != 0 {
		t.Errorf("Corrupt = %d, want 0 (a torn tail is cut, not counted)", s2.Corrupt())
	}
}

func TestSpoolCorruptSegmentSkipped(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSpool(dir, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if err := s.Append(seqRecords(i*10, 10)); err != nil {
			t.Fatal(err)
		}
	}
	// Flip a byte in the middle of the first segment.
	seg := filepath.Join(dir, fmt.Sprintf("%016d%s", 1, segSuffix))
	b, _ := os.ReadFile(seg)
	b[len(b)/2] ^= 0xff
	os.WriteFile(seg, b, 0o640)
	got := drain(t, s, 1000)
	if s.Corrupt() != 1 || len(got) == 0 || got[len(got)-1] != "s39" {
		t.Errorf("Corrupt = %d, got %d records ending %v; want 1 damaged frame counted and reading to go on to s39", s.Corrupt(), len(got), got[len(got)-1:])
	}
}

// TestSpoolDiskFull fills a tiny tmpfs: Append fails with ErrSpoolFull,
// keeps what was stored, and works again once there is room.
func TestSpoolDiskFull(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 16<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := OpenSpool(filepath.Join(dir, "spool"), 0)
	if err != nil {
		t.Fatal(err)
	}
	stored := 0
	var full error
	for i := 0; i < 1000 && full == nil; i++ {
		if err := s.Append(seqRecords(stored, 20)); err != nil {
			full = err
			break
		}
		stored += 20
	}
	if !errors.Is(full, ErrSpoolFull) {
		t.Fatalf("Append on a full disk = %v, want ErrSpoolFull", full)
	}
	recs, _, err := s.Read(100000)
	if err != nil || len(recs) != stored {
		t.Fatalf("after the failure: %d records readable, %v; want the %d stored", len(recs), err, stored)
	}
	// Room again (the operator cleaned up): the same records go in.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(seqRecords(stored, 20)); err != nil {
		t.Fatalf("Append after freeing space: %v", err)
	}
	stored += 20
	s.Close()
	s2, err := OpenSpool(filepath.Join(dir, "spool"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := drain(t, s2, 1000); len(got) != stored {
		t.Errorf("after reopen %d records, want %d", len(got), stored)
	}
	s2.Close()
}

// FuzzParseSpoolSegment feeds arbitrary bytes as a spool segment: opening
// and reading it never panics, and every record it yields survives the
// round trip append → parse.
func FuzzParseSpoolSegment(f *testing.F) {
	dir := f.TempDir()
	s, err := OpenSpool(dir, 0)
	if err != nil {
		f.Fatal(err)
	}
	if err := s.Append(seqRecords(0, 3)); err != nil {
		f.Fatal(err)
	}
	s.Close()
	seg, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%016d%s", 1, segSuffix)))
	f.Add(seg)
	f.Add(seg[:len(seg)-3])
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0, 1})
	fdir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		dir, err := os.MkdirTemp(fdir, "")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%016d%s", 1, segSuffix)), b, 0o640); err != nil {
			t.Fatal(err)
		}
		s, err := openSpool(dir, 0, true)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		recs, _, err := s.Read(1 << 20)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			out, err := r.Append(nil)
			if err != nil {
				t.Fatalf("Append of a read record: %v", err)
			}
			if _, err := ParseRecord(out); err != nil {
				t.Fatalf("re-parse: %v", err)
			}
		}
		// What was cut off as a torn tail is gone; appending works.
		if err := s.Append(seqRecords(0, 1)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestCursorEncoding(t *testing.T) {
	c := Cursor{Seg: 7, Off: 123456}
	b := appendCursor(nil, c)
	if got, ok := parseCursor(b); !ok || got != c {
		t.Fatalf("parseCursor(%q) = %v, %v", b, got, ok)
	}
	if len(appendCursor(nil, Cursor{Seg: 1, Off: 1})) != len(b) {
		t.Fatal("cursor lines differ in length: an in-place rewrite could leave a tail")
	}
	torn := append([]byte(nil), b...)
	torn[25] ^= 1 // a digit of the offset changed: the CRC catches it
	if _, ok := parseCursor(torn); ok {
		t.Fatalf("a corrupted cursor %q was accepted", torn)
	}
	if got, ok := parseCursor([]byte("3 99\n")); !ok || got != (Cursor{Seg: 3, Off: 99}) {
		t.Fatalf("the older cursor form: %v, %v", got, ok)
	}
}

// TestSpoolRefusesDirOthersCanWrite: a spool directory that group or
// others can write, or that another user owns, is refused with an error
// naming the path and its mode; so is the accountant's spool directory,
// which holds the sinks' spools.
func TestSpoolRefusesDirOthersCanWrite(t *testing.T) {
	for _, c := range []struct {
		name  string
		mode  os.FileMode
		owner int // uid to chown to; -1 leaves it
		want  string
	}{
		{"private", 0o700, -1, ""},
		{"group-readable", 0o750, -1, ""},
		{"world-writable", 0o777, -1, "mode 0777 (drwxrwxrwx): group or others can write it"},
		{"group-writable", 0o770, -1, "mode 0770 (drwxrwx---): group or others can write it"},
		{"sticky world-writable", os.ModeSticky | 0o777, -1, "mode 0777 (dtrwxrwxrwx): group or others can write it"},
		{"another owner", 0o700, 65534, "(mode 0700) is owned by uid 65534, and the daemon runs as uid"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.owner >= 0 {
				testenv.RequireRoot(t)
			}
			for _, where := range []string{"spool", "accountant"} {
				dir := filepath.Join(t.TempDir(), "spool")
				if err := os.Mkdir(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(dir, c.mode); err != nil {
					t.Fatal(err)
				}
				if c.owner >= 0 {
					if err := os.Chown(dir, c.owner, c.owner); err != nil {
						t.Fatal(err)
					}
				}
				var err error
				if where == "spool" {
					var s *Spool
					if s, err = OpenSpool(dir, 0); err == nil {
						s.Close()
					}
				} else {
					var a *Accountant
					if a, err = NewAccountant(AccountantConfig{SpoolDir: dir, Sinks: map[string]Sink{"mem": &memSink{}}}); err == nil {
						for _, s := range a.spools {
							s.Close()
						}
					}
				}
				if c.want == "" {
					if err != nil {
						t.Errorf("%s: %v, want it opened", where, err)
					}
					continue
				}
				if !errors.Is(err, ErrSpoolNotPrivate) || !strings.Contains(err.Error(), dir+" ") || !strings.Contains(err.Error(), c.want) {
					t.Errorf("%s: err = %v, want ErrSpoolNotPrivate naming %s and %q", where, err, dir, c.want)
				}
			}
		})
	}
}
