package lns_test

import (
	"context"
	"flag"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/bras-project/bras/internal/testenv"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/ppp"
)

// TestWebPage drives the status page of a running LNS in a real headless
// Chromium, as an operator would: subscribers dialled through an emulated
// LAC and authenticated by a real FreeRADIUS. Without a token the API's
// 401 brings up the token form, and so does a wrong token; with the right
// one the page lists the lab's sessions, the tunnel, the pools' usage,
// both RADIUS servers up with a round trip, the set-ups of the last
// minutes and, for the subscriber the upstream floods, a downstream rate;
// a search by MAC, by circuit id, by part of a user name and by address
// narrows the list to one, a bad address shows the API's reason; a
// disconnect asks first, does nothing when the operator says no, and when
// they say yes the session really ends (CDN to the LAC, gone from the
// API). Screenshots of each step are kept and their paths logged.
func TestWebPage(t *testing.T) {
	testenv.RequireRoot(t)
	chromium := testenv.RequireCommand(t, "chromium")
	users := []testenv.RadiusUser{
		{Name: "alice", Password: "pw-a"},
		{Name: "bob", Password: "pw-b"},
		{Name: "carol", Password: "pw-c"},
		{Name: "tess", Password: "pw-t"},
	}
	l := startLab(t, users)
	ctx := context.Background()
	lac := startSimLAC(t, ctx, l.lac, "lac1", lnsAddr, "sekrit")
	subs := map[string]*simSub{
		"alice": lac.dialAuth("alice", "pw-a", "02:00:00:00:0d:01", ppp.AuthPAP),
		"bob":   lac.dialAuth("bob", "pw-b", "02:00:00:00:0d:02", ppp.AuthCHAPMD5),
		"carol": lac.dialAuth("carol", "pw-c", "02:00:00:00:0d:03", ppp.AuthPAP),
		"tess": lac.place(&simSub{user: "tess", password: "pw-t", auth: []ppp.AuthProto{ppp.AuthPAP}, icrq: []l2tp.AVP{
			{VendorID: 3561, Type: 1, Value: []byte("olt9 eth 1/2/7:300")}, // Agent-Circuit-Id (RFC 4679)
		}}, "olt9 eth 1/2/7:300"),
	}
	nets := map[string]ppp.NetworkInfo{}
	for u, s := range subs {
		nets[u] = waitUp(t, s)
	}
	// Downstream traffic for alice, so that her row has a rate.
	dst := netip.AddrPortFrom(nets["alice"].Local, 9)
	l.flood.Store(&dst)
	defer l.flood.Store(nil)

	base := proxyInto(t, l.lns, "127.0.0.1:18080")
	b := startBrowser(t, chromium)

	// No token: the page's first request gets the API's 401, and the page
	// shows the token form with the reason.
	b.do(chromedp.Navigate(base + "/"))
	b.waitFor("the token form", shown("login")+` && !`+shown("dash"))
	if msg := b.text("#auth-error"); !strings.Contains(msg, "401") || !strings.Contains(msg, "missing bearer token") {
		t.Errorf("token form without a token says %q", msg)
	}
	if got := evaluate[string](b, `location.pathname`); got != "/ui/" {
		t.Errorf("/ led to %q, want /ui/", got)
	}
	b.shot("01-token-form")

	// A wrong token: 401 again, the form stays, the token is not kept.
	b.signIn("not-the-token")
	b.waitFor("the refusal of a wrong token", `document.getElementById('auth-error').textContent.includes('invalid bearer token')`)
	if evaluate[bool](b, shown("dash")+` || !`+shown("login")+` || sessionStorage.getItem('bras.api.token') !== null`) {
		t.Error("the page shows data or keeps the token after a 401")
	}

	// The right token: the lab's sessions, tunnel, pools, RADIUS servers, set-ups.
	b.signIn("tok")
	b.do(chromedp.SetValue(chromedp.ID("interval"), "2000"), chromedp.Evaluate[chromedp.Void](`document.getElementById('interval').dispatchEvent(new Event('change'))`))
	b.waitFor("four sessions listed", `!`+shown("login")+` && `+shown("dash")+` && document.querySelectorAll('#sessions tbody tr[data-id]').length === 4`)
	if diff := cmp.Diff([]string{"alice", "bob", "carol", "tess"}, b.listed()); diff != "" {
		t.Errorf("sessions listed (-want +got)\n%s", diff)
	}
	if got := evaluate[string](b, `sessionStorage.getItem('bras.api.token')`); got != "tok" {
		t.Errorf("token kept in sessionStorage: %q", got)
	}
	row := func(sel string) []string {
		return evaluate[[]string](b, `[...(document.querySelector(`+jsString(sel)+`) || {cells: []}).cells].map(c => c.textContent)`)
	}
	if got := row(`#sessions tr[data-user="tess"]`); len(got) < 8 || got[4] != "olt9 eth 1/2/7:300" || got[5] != "lac1" || got[1] != "up" {
		t.Errorf("tess's row: %q", got)
	}
	if got := row(`#sessions tr[data-user="bob"]`); len(got) < 4 || got[2] != nets["bob"].Local.String() || got[3] != "02:00:00:00:0d:02" {
		t.Errorf("bob's row: %q, want address %v and MAC 02:00:00:00:0d:02", got, nets["bob"].Local)
	}
	if got := row(`#tunnels tbody tr`); len(got) != 7 || got[3] != "lac1" || got[4] != "established" || got[5] != "4" {
		t.Errorf("tunnel row: %q", got)
	}
	if got := row(`#pools tr[data-pool="default"]`); len(got) != 6 || got[2] != "254" || got[3] != "4" || got[4] != "250" || !strings.HasSuffix(got[5], "1.6 %") {
		t.Errorf("pool default's row: %q, want 254 addresses, 4 used, 250 free, 1.6 %%", got)
	}
	b.waitFor("both RADIUS servers up with a round trip", `[...document.querySelectorAll('#radius tbody tr[data-server]')].filter(r => r.cells[2].textContent === 'up').length === 2 &&
		/ms$/.test(document.querySelector('#radius tr[data-kind="access"]').cells[3].textContent)`)
	if got := row(`#radius tr[data-kind="access"]`); len(got) != 7 || got[0] != l.radius.AuthAddr.String() || got[4] != "4" || got[6] != "0" {
		t.Errorf("RADIUS access server row: %q, want %v with 4 accepts and no timeouts", got, l.radius.AuthAddr)
	}
	if got := b.text("#setup-summary"); !strings.HasPrefix(got, "4 up, 0 failed") {
		t.Errorf("set-up summary %q, want 4 up, 0 failed", got)
	}
	if n := evaluate[int](b, `document.querySelectorAll('#setup-chart svg rect.up').length`); n < 1 {
		t.Error("the set-up chart has no bar")
	}
	b.waitFor("alice's downstream rate", `(() => { const r = document.querySelector('#sessions tr[data-user="alice"]');
		return r && /^[0-9.]+ (kbit|Mbit)\/s$/.test(r.cells[8].textContent) })()`)
	t.Logf("alice's rate on the page: down %s, up %s", row(`#sessions tr[data-user="alice"]`)[8], row(`#sessions tr[data-user="alice"]`)[9])
	b.shot("02-dashboard")

	// Search: each narrows the list to one session.
	for _, tt := range []struct{ field, text, want string }{
		{"mac", "0D:02", "bob"},
		{"circuit_id", "eth 1/2/7", "tess"},
		{"user", "CAR", "carol"},
		{"ip", nets["alice"].Local.String(), "alice"},
	} {
		b.search(tt.field, tt.text)
		b.waitFor("search "+tt.field+" "+tt.text, `(() => { const rs = document.querySelectorAll('#sessions tbody tr[data-id]');
			return rs.length === 1 && rs[0].dataset.user === `+jsString(tt.want)+` })()`)
		if got := b.text("#session-count"); got != "1–1 of 1 matching" {
			t.Errorf("search %s %q: count %q", tt.field, tt.text, got)
		}
		if tt.field == "circuit_id" {
			b.shot("03-search")
		}
	}
	b.search("ip", "100.64")
	b.waitFor("the API's reason for a bad address", `document.getElementById('search-error').textContent.includes('parameter "ip"')`)
	b.do(chromedp.Click(chromedp.ID("search-clear")))
	b.waitFor("four sessions again", `document.querySelectorAll('#sessions tbody tr[data-id]').length === 4 && document.getElementById('search-error').hidden`)

	// Disconnect asks first: no ends nothing.
	b.accept.Store(false)
	b.do(chromedp.Click(chromedp.CSS(`button.disconnect[data-user="carol"]`)))
	if msg := b.dialog(t); !strings.Contains(msg, "Disconnect carol") {
		t.Errorf("the question before disconnecting carol: %q", msg)
	}
	time.Sleep(time.Second)
	select {
	case rc := <-subs["carol"].cdn:
		t.Errorf("carol got a CDN though the operator said no: %v", rc.Describe(l2tp.MsgCDN))
	default:
	}
	if out := l.httpGet(t, "/api/v1/sessions?user=carol", "tok"); !strings.Contains(out, "X-Total-Count: 1") {
		t.Errorf("carol's session after a declined disconnect: %s", out)
	}

	// Yes: bob's session really ends.
	b.accept.Store(true)
	b.do(chromedp.Click(chromedp.CSS(`button.disconnect[data-user="bob"]`)))
	if msg := b.dialog(t); !strings.Contains(msg, "Disconnect bob") {
		t.Errorf("the question before disconnecting bob: %q", msg)
	}
	waitCDN(t, subs["bob"], 10*time.Second)
	eventually(t, "bob's session gone from the API", func() bool {
		return strings.Contains(l.httpGet(t, "/api/v1/sessions?user=bob", "tok"), "X-Total-Count: 0")
	})
	b.waitFor("bob gone from the page", `document.querySelectorAll('#sessions tbody tr[data-id]').length === 3 && !document.querySelector('#sessions tr[data-user="bob"]')`)
	if diff := cmp.Diff([]string{"alice", "carol", "tess"}, b.listed()); diff != "" {
		t.Errorf("sessions after disconnecting bob (-want +got)\n%s", diff)
	}
	for _, u := range []string{"alice", "carol", "tess"} {
		select {
		case rc := <-subs[u].cdn:
			t.Errorf("%s got a CDN too: %v", u, rc.Describe(l2tp.MsgCDN))
		default:
		}
	}
	b.shot("04-after-disconnect")

	// Signing out forgets the token and shows the form again.
	b.do(chromedp.Click(chromedp.ID("signout")))
	b.waitFor("the token form after signing out", shown("login")+` && !`+shown("dash")+` && sessionStorage.getItem('bras.api.token') === null`)
	if n := len(b.exceptions()); n > 0 {
		t.Errorf("the page threw %d JavaScript exceptions: %q", n, b.exceptions())
	}
}

// proxyInto listens on the host's loopback and forwards each connection
// to target, dialled in namespace ns (where the LNS's API listens): the
// browser runs on the host. It returns the base URL.
func proxyInto(t *testing.T, ns *testenv.Netns, target string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			var up net.Conn
			if err := ns.Do(func() (err error) { up, err = net.Dial("tcp", target); return err }); err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, up)
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); io.Copy(up, c); up.(*net.TCPConn).CloseWrite() }()
			go func() { defer wg.Done(); io.Copy(c, up); c.(*net.TCPConn).CloseWrite() }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "http://" + ln.Addr().String()
}

// browser is one headless Chromium tab.
type browser struct {
	t       *testing.T
	ctx     context.Context
	dir     string // where the screenshots go
	accept  atomic.Bool
	dialogs chan string
	mu      sync.Mutex
	thrown  []string
}

// startBrowser starts the one Chromium of the test run (as root it needs
// --no-sandbox) and stops it at the end of the test.
func startBrowser(t *testing.T, path string) *browser {
	t.Helper()
	b := &browser{t: t, dir: artifactDir(t), dialogs: make(chan string, 4)}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Headless,
		chromedp.WindowSize(1440, 1000), chromedp.Flag("disable-gpu", true), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok && e.ExceptionDetails != nil {
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			b.mu.Lock()
			b.thrown = append(b.thrown, msg)
			b.mu.Unlock()
		}
	}))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b.ctx = ctx
	if err := chromedp.Do(ctx); err != nil { // starts the browser, on a context without a deadline
		t.Fatalf("starting %s: %v", path, err)
	}
	// Answer the page's confirm() as the test says, from another
	// goroutine: the click that opened it waits for the answer.
	go func() {
		for ev, err := range chromedp.Events(ctx, page.JavascriptDialogOpening) {
			if err != nil {
				return
			}
			b.dialogs <- ev.Message
			if _, err := chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: b.accept.Load()}); err != nil {
				return
			}
		}
	}()
	return b
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.shot("failed")
		b.t.Fatal(err)
	}
}

func evaluate[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor waits up to 20 s for the JavaScript condition.
func (b *browser) waitFor(what, cond string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 25*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingInterval(100*time.Millisecond),
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		b.shot("failed")
		b.t.Fatalf("waiting for %s: %v (status %q)", what, err, b.text("#status"))
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return evaluate[string](b, `document.querySelector(`+jsString(sel)+`).textContent`)
}

// listed returns the users of the session rows, sorted.
func (b *browser) listed() []string {
	b.t.Helper()
	us := evaluate[[]string](b, `[...document.querySelectorAll('#sessions tbody tr[data-id]')].map(r => r.dataset.user)`)
	slices.Sort(us)
	return us
}

func (b *browser) signIn(token string) {
	b.t.Helper()
	b.do(chromedp.SendKeys(chromedp.ID("token-input"), token), chromedp.Click(chromedp.CSS(`#token-form button[type=submit]`)))
}

func (b *browser) search(field, text string) {
	b.t.Helper()
	b.do(chromedp.SetValue(chromedp.ID("search-field"), field), chromedp.SetValue(chromedp.ID("search-text"), text),
		chromedp.Click(chromedp.CSS(`#search-form button[type=submit]`)))
}

// dialog returns the message of the confirm() the page opened.
func (b *browser) dialog(t *testing.T) string {
	t.Helper()
	select {
	case m := <-b.dialogs:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("the page asked nothing before disconnecting")
		return ""
	}
}

func (b *browser) exceptions() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.thrown)
}

// shot writes a full-page PNG screenshot to the artifact directory and
// logs its path.
func (b *browser) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(b.dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	b.t.Logf("screenshot: %s", path)
}

// artifactDir is where a test keeps its screenshots: under
// $BRAS_TEST_ARTIFACTS when set, in the go test -artifacts directory when
// that flag is given, else in a directory under os.TempDir that outlives
// the test (its path is logged with each file).
func artifactDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("BRAS_TEST_ARTIFACTS"); d != "" {
		dir := filepath.Join(d, t.Name())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	if f := flag.Lookup("test.artifacts"); f != nil && f.Value.String() == "true" {
		return t.ArtifactDir()
	}
	dir, err := os.MkdirTemp("", "bras-"+t.Name()+"-")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// shown is a JavaScript condition: the element with this id is laid out
// (neither it nor a parent is display: none).
func shown(id string) string {
	return `(document.getElementById(` + jsString(id) + `).getClientRects().length > 0)`
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`)
	return "'" + r.Replace(s) + "'"
}
