package udpio_test

import (
	"errors"
	"slices"
	"syscall"
	"testing"

	"github.com/bras-project/bras/internal/udpio"
	"golang.org/x/net/ipv4"
)

// refusing is a MessageWriter whose kernel takes at most max messages a
// call and refuses the messages whose first octet is in bad, as sendmmsg
// does: the ones before a refused one are sent, then the call fails.
type refusing struct {
	max   int
	bad   []byte
	calls int
	got   []byte
}

func (w *refusing) WriteBatch(ms []ipv4.Message, _ int) (int, error) {
	w.calls++
	for i, m := range ms[:min(len(ms), w.max)] {
		if slices.Contains(w.bad, m.Buffers[0][0]) {
			if i == 0 {
				return 0, syscall.EINVAL
			}
			return i, nil
		}
		w.got = append(w.got, m.Buffers[0][0])
	}
	return min(len(ms), w.max), nil
}

// TestWriteMessages: every message goes out, in order, over as many
// system calls as the kernel needs; a refused one is skipped and the first
// error returned with the count of those sent.
func TestWriteMessages(t *testing.T) {
	msgs := make([]ipv4.Message, 7)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{{byte(i)}}
	}
	w := &refusing{max: 3}
	if n, err := udpio.WriteMessages(w, msgs); n != 7 || err != nil || !slices.Equal(w.got, []byte{0, 1, 2, 3, 4, 5, 6}) || w.calls != 3 {
		t.Errorf("all good: %d sent, %v, got %v in %d calls; want 7, nil, in order, 3 calls", n, err, w.got, w.calls)
	}
	w = &refusing{max: 64, bad: []byte{2, 5}}
	n, err := udpio.WriteMessages(w, msgs)
	if n != 5 || !errors.Is(err, syscall.EINVAL) || !slices.Equal(w.got, []byte{0, 1, 3, 4, 6}) {
		t.Errorf("2 and 5 refused: %d sent, %v, got %v; want 5, EINVAL, the others in order", n, err, w.got)
	}
	if n, err := udpio.WriteMessages(w, nil); n != 0 || err != nil {
		t.Errorf("nothing to send: %d, %v", n, err)
	}
}
