package testenv

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/radiuslab"
)

// RadiusUser is a subscriber of the test FreeRADIUS.
type RadiusUser = radiuslab.User

// RadiusAttr is a reply attribute of a RadiusUser.
type RadiusAttr = radiuslab.Attr

// RadiusClient is a NAS allowed to talk to the test FreeRADIUS.
type RadiusClient = radiuslab.Client

// RadiusConfig describes the FreeRADIUS a test needs.
type RadiusConfig struct {
	Users   []RadiusUser
	Clients []RadiusClient // besides 127.0.0.1
	Secret  string         // "testing123" when empty
	// Addr is where it listens, 127.0.0.1 by default; with NS, an
	// address of that namespace.
	Addr netip.Addr
	// AuthPort and AcctPort default to free ports (1812 and 1813 in a
	// namespace).
	AuthPort, AcctPort uint16
	// NS runs the server inside that namespace.
	NS *Netns
	// RequireMessageAuthenticator makes it drop requests without one.
	RequireMessageAuthenticator bool
	// Debug runs it with -X and prints its log at the end of the test.
	Debug bool
}

// FreeRADIUS is a running FreeRADIUS server, stopped when the test ends.
type FreeRADIUS struct {
	AuthAddr netip.AddrPort
	AcctAddr netip.AddrPort
	Secret   string
	Config   radiuslab.Config
	log      *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// StartFreeRADIUS writes a configuration for cfg into a temporary
// directory, starts /usr/sbin/freeradius in the foreground (in cfg.NS when
// set), waits until it answers a Status-Server and stops it when the test
// ends. It skips (fails under CI) when freeradius is not installed.
func StartFreeRADIUS(t testing.TB, cfg RadiusConfig) *FreeRADIUS {
	t.Helper()
	bin := RequireCommand(t, "freeradius")
	if cfg.Secret == "" {
		cfg.Secret = "testing123"
	}
	if !cfg.Addr.IsValid() {
		cfg.Addr = netip.MustParseAddr("127.0.0.1")
	}
	if cfg.NS != nil {
		if cfg.AuthPort == 0 {
			cfg.AuthPort = 1812
		}
		if cfg.AcctPort == 0 {
			cfg.AcctPort = 1813
		}
	} else {
		if cfg.AuthPort == 0 {
			cfg.AuthPort = freeUDPPort(t, cfg.Addr)
		}
		if cfg.AcctPort == 0 {
			cfg.AcctPort = freeUDPPort(t, cfg.Addr)
		}
	}
	dir := t.TempDir()
	rc := radiuslab.Config{
		Dir:                         dir,
		AuthAddr:                    netip.AddrPortFrom(cfg.Addr, cfg.AuthPort),
		AcctAddr:                    netip.AddrPortFrom(cfg.Addr, cfg.AcctPort),
		Secret:                      cfg.Secret,
		Clients:                     cfg.Clients,
		Users:                       cfg.Users,
		RequireMessageAuthenticator: cfg.RequireMessageAuthenticator,
	}
	if err := radiuslab.Write(rc); err != nil {
		t.Fatal(err)
	}
	var cmd *exec.Cmd
	if cfg.NS != nil {
		cmd = cfg.NS.Command(bin, rc.Args(cfg.Debug)...)
	} else {
		cmd = exec.Command(bin, rc.Args(cfg.Debug)...)
	}
	f := &FreeRADIUS{AuthAddr: rc.AuthAddr, AcctAddr: rc.AcctAddr, Secret: cfg.Secret, Config: rc, log: &lockedBuffer{}}
	cmd.Stdout, cmd.Stderr = f.log, f.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start freeradius: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if cfg.Debug || t.Failed() {
			t.Logf("freeradius log:\n%s", f.log.String())
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	probed := make(chan error, 1)
	go func() {
		var conn net.Conn
		dial := func() error {
			c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(rc.AuthAddr))
			conn = c
			return err
		}
		var err error
		if cfg.NS != nil {
			err = cfg.NS.Do(dial)
		} else {
			err = dial()
		}
		if err != nil {
			probed <- err
			return
		}
		defer conn.Close()
		probed <- radiuslab.ProbeConn(ctx, conn, cfg.Secret)
	}()
	select {
	case err := <-probed:
		if err != nil {
			t.Fatalf("freeradius did not answer on %v: %v\n%s", rc.AuthAddr, err, f.log.String())
		}
	case err := <-exited:
		t.Fatalf("freeradius exited: %v\n%s", err, f.log.String())
	}
	return f
}

// Log returns what the server printed so far.
func (f *FreeRADIUS) Log() string { return f.log.String() }

// DetailLines returns the lines of the accounting detail file.
func (f *FreeRADIUS) DetailLines() []string {
	b, err := os.ReadFile(f.Config.DetailPath())
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// AccountingRecords returns the accounting requests the server wrote to
// its detail file, in order (nil before the first; what parsed when the
// file ends in a record still being written).
func (f *FreeRADIUS) AccountingRecords() []radiuslab.Record {
	recs, _ := f.ReadAccounting()
	return recs
}

// ReadAccounting is AccountingRecords with the read or parse error.
func (f *FreeRADIUS) ReadAccounting() ([]radiuslab.Record, error) {
	fh, err := os.Open(f.Config.DetailPath())
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return radiuslab.ParseDetail(fh)
}

// WaitAccountingRecords waits until the detail file holds at least n
// records and returns them; it fails the test after timeout.
func (f *FreeRADIUS) WaitAccountingRecords(t testing.TB, n int, timeout time.Duration) []radiuslab.Record {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		recs, err := f.ReadAccounting()
		if err == nil && len(recs) >= n {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d accounting records in %s after %v (err %v), want %d:\n%s",
				len(recs), filepath.Base(f.Config.DetailPath()), timeout, err, n, strings.Join(f.DetailLines(), "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freeUDPPort(t testing.TB, addr netip.Addr) uint16 {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)))
	if err != nil {
		t.Fatalf("free port on %v: %v", addr, err)
	}
	defer c.Close()
	return uint16(c.LocalAddr().(*net.UDPAddr).Port)
}
