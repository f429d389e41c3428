package logging

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/rs/zerolog"
)

func TestLevelFromEnv(t *testing.T) {
	cases := []struct {
		env  string
		want zerolog.Level
	}{
		{"", zerolog.InfoLevel},
		{"debug", zerolog.DebugLevel},
		{" WARN ", zerolog.WarnLevel},
		{"error", zerolog.ErrorLevel},
		{"nonsense", zerolog.InfoLevel},
	}
	for _, tc := range cases {
		t.Setenv(LevelEnv, tc.env)
		if got := LevelFromEnv(); got != tc.want {
			t.Errorf("%q: level %v, want %v", tc.env, got, tc.want)
		}
	}
}

func TestNewWritesJSONWithComponentAndFiltersByLevel(t *testing.T) {
	t.Setenv(LevelEnv, "warn")
	var buf bytes.Buffer
	log := New(&buf, "reconcile")
	log.Info().Msg("dropped")
	log.Warn().Str("member", "123").Msg("kept")
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 1 {
		t.Fatalf("got %d lines: %s", len(lines), buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal(lines[0], &rec); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if rec["component"] != "reconcile" || rec["member"] != "123" || rec["level"] != "warn" || rec["time"] == nil {
		t.Fatalf("record = %v", rec)
	}
}
