package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bras-project/bras/internal/testenv"
)

// TestAlertRules: Prometheus's own checker accepts the alert rules, and
// their unit tests (bras-rules.test.yml) pass: each alert fires on the
// situation it is for, after its "for", with the annotations an on-call
// engineer reads, and stays quiet on a healthy daemon. internal/lab's
// TestLabMetrics checks that every metric they use is exported.
func TestAlertRules(t *testing.T) {
	promtool := testenv.RequireCommand(t, "promtool")
	for _, args := range [][]string{
		{"check", "rules", "bras-rules.yml"},
		{"test", "rules", "bras-rules.test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "prometheus"
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestDashboard: the Grafana dashboard is a JSON model Grafana imports
// with the Prometheus data source chosen at import (${DS_PROMETHEUS}),
// and every panel queries it with at least one expression.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile("grafana/bras.json")
	if err != nil {
		t.Fatal(err)
	}
	type datasource struct{ Type, UID string }
	var d struct {
		Title  string
		UID    string
		Inputs []struct{ Name, Type, PluginID string } `json:"__inputs"`
		Panels []struct {
			ID         int
			Type       string
			Title      string
			Datasource *datasource
			Targets    []struct {
				Expr       string
				RefID      string
				Datasource *datasource
			}
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana/bras.json: %v", err)
	}
	if d.Title == "" || d.UID == "" {
		t.Errorf("title %q, uid %q: both needed", d.Title, d.UID)
	}
	if len(d.Inputs) != 1 || d.Inputs[0].Name != "DS_PROMETHEUS" || d.Inputs[0].PluginID != "prometheus" {
		t.Errorf("__inputs %+v, want the one Prometheus data source DS_PROMETHEUS", d.Inputs)
	}
	ids := map[int]bool{}
	graphs := 0
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		graphs++
		if p.Datasource == nil || p.Datasource.UID != "${DS_PROMETHEUS}" {
			t.Errorf("panel %q: datasource %+v, want ${DS_PROMETHEUS}", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			if !strings.Contains(q.Expr, "bras_") || q.RefID == "" || q.Datasource == nil || q.Datasource.UID != "${DS_PROMETHEUS}" {
				t.Errorf("panel %q: query %+v", p.Title, q)
			}
		}
	}
	if graphs < 15 {
		t.Errorf("%d panels, want the sessions, set-ups, latencies, RADIUS, pools, data plane, L2TP, PPPoE and spool ones", graphs)
	}

	// Every query parses as PromQL: promtool checks them as recording
	// rules, with Grafana's variables as Grafana would substitute them.
	promtool := testenv.RequireCommand(t, "promtool")
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	vars := strings.NewReplacer("$__rate_interval", "5m", "$instance", ".*")
	n := 0
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			expr, _ := json.Marshal(vars.Replace(q.Expr))
			fmt.Fprintf(&rules, "      - record: dashboard:query_%d\n        expr: %s\n", n, expr)
			n++
		}
	}
	f := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(f, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", f).CombinedOutput()
	if err != nil || !strings.Contains(string(out), fmt.Sprintf("SUCCESS: %d rules found", n)) {
		t.Errorf("the dashboard's queries do not all parse: %v\n%s", err, out)
	}
}
