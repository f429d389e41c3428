// Package logging configures zerolog once for every auditwarden binary: JSON to stderr (or a given
// writer), UTC RFC 3339 timestamps with milliseconds, level from AUDITWARDEN_LOG_LEVEL.
package logging

import (
	"io"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// LevelEnv names the environment variable holding the log level (trace, debug, info, warn, error).
const LevelEnv = "AUDITWARDEN_LOG_LEVEL"

func init() {
	zerolog.TimeFieldFormat = "2006-01-02T15:04:05.000Z07:00"
	zerolog.TimestampFunc = func() time.Time { return time.Now().UTC() }
}

// New returns a JSON logger writing to w with the level from the environment (info when unset or unknown).
func New(w io.Writer, component string) zerolog.Logger {
	if w == nil {
		w = os.Stderr
	}
	return zerolog.New(w).Level(LevelFromEnv()).With().Timestamp().Str("component", component).Logger()
}

// LevelFromEnv parses AUDITWARDEN_LOG_LEVEL.
func LevelFromEnv() zerolog.Level {
	lvl, err := zerolog.ParseLevel(strings.ToLower(strings.TrimSpace(os.Getenv(LevelEnv))))
	if err != nil || lvl == zerolog.NoLevel {
		return zerolog.InfoLevel
	}
	return lvl
}
