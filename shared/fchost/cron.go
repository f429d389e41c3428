package fchost

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// FC timer expressions have six fields (seconds first), accept ? in the day fields, the @every
// form, and an optional CRON_TZ=<zone> prefix; without one they run in UTC.
var cronParser = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// parseCron checks a timer trigger's cronExpression and returns its schedule.
func parseCron(expr string) (cron.Schedule, error) {
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return nil, errors.New("required: six fields (second minute hour day month weekday), e.g. '0 */15 * * * *', or @every <duration>")
	}
	body := expr
	if strings.HasPrefix(body, "CRON_TZ=") || strings.HasPrefix(body, "TZ=") {
		_, rest, ok := strings.Cut(body, " ")
		if !ok {
			return nil, fmt.Errorf("%q: a time zone prefix must be followed by the schedule", expr)
		}
		body = strings.TrimSpace(rest)
	}
	if !strings.HasPrefix(body, "@") {
		if n := len(strings.Fields(body)); n != 6 {
			return nil, fmt.Errorf("%q has %d fields: FC needs six (second minute hour day month weekday)", expr, n)
		}
	}
	if strings.HasPrefix(body, "@every ") {
		d, err := time.ParseDuration(strings.TrimSpace(strings.TrimPrefix(body, "@every ")))
		if err != nil || d < time.Second {
			return nil, fmt.Errorf("%q: @every needs a duration of at least 1s such as 1h30m", expr)
		}
	}
	s, err := cronParser.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("%q: %v", expr, err)
	}
	return s, nil
}
