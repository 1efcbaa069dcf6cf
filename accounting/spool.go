package accounting

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// ErrSpoolFull is returned (wrapped) by Spool.Append when the disk under
// the spool is full; the records were not stored and stay with the caller.
var ErrSpoolFull = errors.New("accounting: spool disk full")

// ErrCorrupt counts a frame whose length or CRC does not check.
var ErrCorrupt = errors.New("accounting: spool frame corrupt")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const (
	frameHeader   = 8 // u32 payload length, u32 CRC-32C of the payload
	maxFrame      = 1 << 20
	segSuffix     = ".seg"
	cursorFile    = "cursor"
	defaultSegMax = 8 << 20
)

// Cursor is a position in the spool: a segment and an offset in it.
type Cursor struct {
	Seg uint64
	Off int64
}

// Spool is an append-only, fsync'd queue of records on local disk, in
// numbered segment files of length-prefixed, CRC-checked frames. One
// writer appends; one reader reads from its cursor and commits what the
// sink has taken, which deletes the segments left behind. After a crash a
// torn frame at the tail is cut off, and reading starts again at the last
// committed cursor (so a sink may see records twice: sinks are idempotent).
type Spool struct {
	dir    string
	segMax int64
	nosync bool // tests only: skip fsync

	mu      sync.Mutex
	segs    []uint64 // present segments, ascending
	w       *os.File
	wseg    uint64
	wsize   int64 // durable (fsync'd) size of the write segment
	rd      Cursor
	rf      *os.File
	cf      *os.File // the cursor file, rewritten in place by Commit
	rfSeg   uint64
	rfSize  int64
	buf     []byte
	rbuf    []byte
	corrupt int
	notify  chan struct{}
}

// OpenSpool opens (creating it if needed) the spool in dir.
func OpenSpool(dir string, segMax int64) (*Spool, error) {
	return openSpool(dir, segMax, false)
}

func openSpool(dir string, segMax int64, nosync bool) (*Spool, error) {
	if segMax <= 0 {
		segMax = defaultSegMax
	}
	if err := privateDir(dir); err != nil {
		return nil, err
	}
	s := &Spool{dir: dir, segMax: segMax, nosync: nosync, notify: make(chan struct{}, 1)}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("accounting: spool: %w", err)
	}
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), segSuffix); ok {
			if v, err := strconv.ParseUint(n, 10, 64); err == nil {
				s.segs = append(s.segs, v)
			}
		}
	}
	sort.Slice(s.segs, func(i, j int) bool { return s.segs[i] < s.segs[j] })
	if len(s.segs) == 0 {
		s.segs = []uint64{1}
	}
	s.wseg = s.segs[len(s.segs)-1]
	// Cut a torn tail off the last segment: frames after the last good
	// one were never acknowledged to anyone.
	good, err := s.scanValid(s.wseg)
	if err != nil {
		return nil, err
	}
	s.w, err = os.OpenFile(s.segPath(s.wseg), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("accounting: spool: %w", err)
	}
	if err := s.w.Truncate(good); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("accounting: spool: truncate torn tail: %w", err)
	}
	s.wsize = good
	s.rd = Cursor{Seg: s.segs[0]}
	if b, err := os.ReadFile(filepath.Join(dir, cursorFile)); err == nil {
		if c, ok := parseCursor(b); ok && s.has(c.Seg) && c.Off >= 0 {
			if c.Seg != s.wseg || c.Off <= s.wsize {
				s.rd = c
			}
		}
	}
	if !nosync {
		if err := syncDir(dir); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// ErrSpoolNotPrivate is returned (wrapped) when a spool directory could be
// written by someone other than the daemon: whoever can write there can
// drop, replace or forge the accounting the operator bills from.
var ErrSpoolNotPrivate = errors.New("accounting: spool directory not private to the daemon")

// privateDir creates dir (mode 0750) if needed, and refuses it when group
// or others may write it or another user owns it.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("accounting: spool: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("accounting: spool: %w", err)
	}
	if m := fi.Mode().Perm(); m&0o022 != 0 {
		return fmt.Errorf("%w: %s has mode %04o (%v): group or others can write it; chmod go-w it", ErrSpoolNotPrivate, dir, m, fi.Mode())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%w: %s (mode %04o) is owned by uid %d, and the daemon runs as uid %d; chown it to the daemon's user",
			ErrSpoolNotPrivate, dir, fi.Mode().Perm(), st.Uid, os.Geteuid())
	}
	return nil
}

func (s *Spool) has(seg uint64) bool {
	for _, v := range s.segs {
		if v == seg {
			return true
		}
	}
	return false
}

func (s *Spool) segPath(seg uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%016d%s", seg, segSuffix))
}

// scanValid returns the length of the prefix of seg made of good frames.
func (s *Spool) scanValid(seg uint64) (int64, error) {
	b, err := os.ReadFile(s.segPath(seg))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("accounting: spool: %w", err)
	}
	var off int64
	for {
		n, _, err := nextFrame(b[off:])
		if err != nil || n == 0 {
			return off, nil
		}
		off += int64(n)
	}
}

// nextFrame checks the frame at the start of b and returns its total size
// and payload; 0 at a clean end (or a frame not complete yet).
func nextFrame(b []byte) (int, []byte, error) {
	if len(b) < frameHeader {
		return 0, nil, nil
	}
	n := int(binary.BigEndian.Uint32(b))
	if n == 0 || n > maxFrame {
		return 0, nil, fmt.Errorf("%w: length %d", ErrCorrupt, n)
	}
	if len(b) < frameHeader+n {
		return 0, nil, nil
	}
	p := b[frameHeader : frameHeader+n]
	if crc32.Checksum(p, castagnoli) != binary.BigEndian.Uint32(b[4:]) {
		return 0, nil, fmt.Errorf("%w: CRC", ErrCorrupt)
	}
	return frameHeader + n, p, nil
}

// Append writes recs durably (one write, one fsync) or not at all: on an
// error the segment is cut back and the caller still owns the records.
// keepBuffer is the largest write buffer a spool keeps between appends.
const keepBuffer = 1 << 20

func (s *Spool) Append(recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wsize >= s.segMax {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	b := s.buf[:0]
	for i := range recs {
		start := len(b)
		b = append(b, make([]byte, frameHeader)...)
		var err error
		if b, err = recs[i].Append(b); err != nil {
			return fmt.Errorf("accounting: spool: %w", err)
		}
		p := b[start+frameHeader:]
		if len(p) > maxFrame {
			return fmt.Errorf("accounting: spool: record of %d bytes: %w", len(p), ErrMalformed)
		}
		binary.BigEndian.PutUint32(b[start:], uint32(len(p)))
		binary.BigEndian.PutUint32(b[start+4:], crc32.Checksum(p, castagnoli))
	}
	s.buf = b
	if cap(b) > keepBuffer {
		s.buf = nil // a burst's buffer is not kept (see keepRecords)
	}
	_, err := s.w.WriteAt(b, s.wsize)
	if err == nil && !s.nosync {
		err = s.w.Sync()
	}
	if err != nil {
		_ = s.w.Truncate(s.wsize)
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
			return fmt.Errorf("%w: %s: %v", ErrSpoolFull, s.dir, err)
		}
		return fmt.Errorf("accounting: spool: write %s: %w", s.dir, err)
	}
	s.wsize += int64(len(b))
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return nil
}

func (s *Spool) rotate() error {
	next := s.wseg + 1
	f, err := os.OpenFile(s.segPath(next), os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o640)
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return fmt.Errorf("%w: %s: %v", ErrSpoolFull, s.dir, err)
		}
		return fmt.Errorf("accounting: spool: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		f.Close()
		os.Remove(s.segPath(next))
		return err
	}
	s.w.Close()
	s.w, s.wseg, s.wsize = f, next, 0
	s.segs = append(s.segs, next)
	return nil
}

// End is the cursor after the last durable record.
func (s *Spool) End() Cursor {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Cursor{Seg: s.wseg, Off: s.wsize}
}

// Before reports whether c is an earlier position than o.
func (c Cursor) Before(o Cursor) bool {
	return c.Seg < o.Seg || (c.Seg == o.Seg && c.Off < o.Off)
}

// Notify is signalled after every Append.
func (s *Spool) Notify() <-chan struct{} { return s.notify }

// Read returns up to max records from the read cursor and the cursor
// after them; nothing (and no error) when the reader has caught up. Only
// fsync'd frames are read.
func (s *Spool) Read(max int) ([]Record, Cursor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Record
	c := s.rd
	for len(out) < max {
		if s.rf == nil || s.rfSeg != c.Seg {
			if s.rf != nil {
				s.rf.Close()
				s.rf = nil
			}
			f, err := os.Open(s.segPath(c.Seg))
			if err != nil {
				return out, c, fmt.Errorf("accounting: spool: %w", err)
			}
			fi, err := f.Stat()
			if err != nil {
				f.Close()
				return out, c, fmt.Errorf("accounting: spool: %w", err)
			}
			s.rf, s.rfSeg, s.rfSize = f, c.Seg, fi.Size()
		}
		limit := s.wsize
		if c.Seg != s.wseg {
			// The segment may have grown since it was opened as the
			// write segment: take its final size.
			if fi, err := s.rf.Stat(); err == nil {
				s.rfSize = fi.Size()
			}
			limit = s.rfSize
		}
		if c.Off >= limit {
			next, ok := s.after(c.Seg)
			if c.Seg == s.wseg || !ok {
				break
			}
			c = Cursor{Seg: next}
			continue
		}
		// A chunk always holds at least one whole frame.
		want := min(int64(frameHeader+maxFrame), limit-c.Off)
		if int64(cap(s.rbuf)) < want {
			s.rbuf = make([]byte, want)
		}
		buf := s.rbuf[:want]
		if _, err := s.rf.ReadAt(buf, c.Off); err != nil {
			return out, c, fmt.Errorf("accounting: spool: %w", err)
		}
		used := 0
		for len(out) < max {
			fl, p, err := nextFrame(buf[used:])
			if err != nil || (fl == 0 && used == 0) {
				// Damage, or a frame cut short, inside a completed
				// segment: count it and skip the rest of the segment.
				s.corrupt++
				used = int(limit - c.Off)
				break
			}
			if fl == 0 {
				break
			}
			if r, err := ParseRecord(p); err != nil {
				s.corrupt++
			} else {
				out = append(out, r)
			}
			used += fl
		}
		c.Off += int64(used)
	}
	return out, c, nil
}

func (s *Spool) after(seg uint64) (uint64, bool) {
	for _, v := range s.segs {
		if v > seg {
			return v, true
		}
	}
	return 0, false
}

// Commit moves the read cursor to c (what the sink has taken), deletes
// the segments before it and records the cursor (not fsync'd: losing it
// only means records are offered again).
func (s *Spool) Commit(c Cursor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rd = c
	keep := s.segs[:0]
	var err error
	for _, v := range s.segs {
		if v < c.Seg && v != s.wseg {
			if s.rf != nil && s.rfSeg == v {
				s.rf.Close()
				s.rf = nil
			}
			if rerr := os.Remove(s.segPath(v)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
				err = rerr
			}
			continue
		}
		keep = append(keep, v)
	}
	s.segs = keep
	// One fixed-size write in place (no new file per commit: that cost a
	// create and a rename per delivered batch). A torn or stale cursor
	// fails its CRC and the records are offered again, which the sinks'
	// idempotent writes absorb.
	if s.cf == nil {
		s.cf, _ = os.OpenFile(filepath.Join(s.dir, cursorFile), os.O_RDWR|os.O_CREATE, 0o640)
	}
	if s.cf != nil {
		_, _ = s.cf.WriteAt(appendCursor(nil, c), 0)
	}
	if err != nil {
		return fmt.Errorf("accounting: spool: %w", err)
	}
	return nil
}

// Pending is the number of bytes between the read cursor and the end.
func (s *Spool) Pending() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, v := range s.segs {
		if v < s.rd.Seg {
			continue
		}
		var size int64
		if v == s.wseg {
			size = s.wsize
		} else if fi, err := os.Stat(s.segPath(v)); err == nil {
			size = fi.Size()
		}
		if v == s.rd.Seg {
			size -= s.rd.Off
		}
		n += max(size, 0)
	}
	return n
}

// Corrupt is how many damaged frames reading has skipped.
func (s *Spool) Corrupt() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.corrupt
}

// Close closes the files.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rf != nil {
		s.rf.Close()
		s.rf = nil
	}
	if s.cf != nil {
		s.cf.Close()
		s.cf = nil
	}
	return s.w.Close()
}

// appendCursor encodes c as a fixed-width line with a CRC-32C:
// "SEG OFF CRC\n", always the same length so it is rewritten in place.
func appendCursor(b []byte, c Cursor) []byte {
	body := fmt.Sprintf("%020d %020d", c.Seg, c.Off)
	return fmt.Appendf(b, "%s %08x\n", body, crc32.Checksum([]byte(body), castagnoli))
}

// parseCursor reads what appendCursor wrote (and the older "SEG OFF" form).
func parseCursor(b []byte) (Cursor, bool) {
	var c Cursor
	var sum uint32
	if n, _ := fmt.Sscanf(string(b), "%d %d %x", &c.Seg, &c.Off, &sum); n == 3 {
		body := fmt.Sprintf("%020d %020d", c.Seg, c.Off)
		return c, crc32.Checksum([]byte(body), castagnoli) == sum
	}
	if n, _ := fmt.Sscanf(string(b), "%d %d", &c.Seg, &c.Off); n == 2 {
		return c, true
	}
	return Cursor{}, false
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("accounting: spool: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("accounting: spool: sync %s: %w", dir, err)
	}
	return nil
}
