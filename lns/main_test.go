package lns_test

import (
	"os"
	"testing"

	"github.com/bras-project/bras/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopPostgres()
	os.Exit(code)
}
