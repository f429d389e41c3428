package fchost

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// scheduleTimers registers every enabled timer trigger. Schedules run in UTC, as FC's do, unless
// the expression carries CRON_TZ. A firing invokes asynchronously, with the function's retries.
// (That FC's timer triggers invoke asynchronously is what FC's async-task documentation implies;
// no source states it for FC 3.0.)
func (h *Host) scheduleTimers() error {
	h.cron = cron.New(cron.WithParser(cronParser), cron.WithLocation(time.UTC))
	for _, name := range h.order {
		f := h.funcs[name]
		for _, t := range f.spec.Triggers {
			if t.Timer == nil {
				continue
			}
			if !t.Timer.Enable {
				f.log.Info().Str("trigger", t.Name).Msg("timer trigger disabled (enable: false); not scheduled")
				continue
			}
			sched, err := parseCron(t.Timer.CronExpression)
			if err != nil {
				return fmt.Errorf("fchost: %s trigger %s: %w", name, t.Name, err)
			}
			h.cron.Schedule(sched, cron.FuncJob(func() {
				id, err := h.invokeAsync(h.ctx, f, timerEvent(t, time.Now()), SourceTimer, t.Name)
				if err != nil {
					f.log.Warn().Err(err).Str("trigger", t.Name).Msg("timer firing not queued")
					return
				}
				f.log.Debug().Str("trigger", t.Name).Str("requestId", id).Msg("timer fired")
			}))
			f.log.Info().Str("trigger", t.Name).Str("cron", t.Timer.CronExpression).Time("next", sched.Next(time.Now())).Msg("timer trigger scheduled")
		}
	}
	h.cron.Start()
	return nil
}

// subscribe creates one localcloud EventBridge subscription per enabled eventbridge trigger,
// delivering to that trigger's EventURL with the trigger's eventRuleFilterPattern.
func (h *Host) subscribe(ctx context.Context) error {
	var wanted []struct {
		f *function
		t *Trigger
	}
	for _, name := range h.order {
		f := h.funcs[name]
		for _, t := range f.spec.Triggers {
			if t.EventBridge == nil {
				continue
			}
			if !t.EventBridge.Enable {
				f.log.Info().Str("trigger", t.Name).Msg("eventbridge trigger disabled (triggerEnable: false); not subscribed")
				continue
			}
			wanted = append(wanted, struct {
				f *function
				t *Trigger
			}{f, t})
		}
	}
	if len(wanted) == 0 {
		return nil
	}
	if h.opts.EventBridge == "" {
		h.log.Warn().Int("triggers", len(wanted)).Msg("eventbridge triggers not subscribed: no localcloud control URL (Options.EventBridge)")
		return nil
	}
	base := strings.TrimSuffix(h.opts.EventBridge, "/")
	for _, w := range wanted {
		body, _ := json.Marshal(map[string]any{"url": h.EventURL(w.f.spec.Name, w.t.Name), "pattern": w.t.EventBridge.Pattern})
		var sub struct {
			ID string `json:"id"`
		}
		if err := controlCall(ctx, http.MethodPost, base+"/eventbridge/subscriptions", body, &sub); err != nil {
			return fmt.Errorf("fchost: subscribing %s trigger %s: %w", w.f.spec.Name, w.t.Name, err)
		}
		h.mu.Lock()
		h.subs = append(h.subs, sub.ID)
		h.mu.Unlock()
		w.f.log.Info().Str("trigger", w.t.Name).Str("subscription", sub.ID).RawJSON("pattern", w.t.EventBridge.Pattern).Msg("eventbridge trigger subscribed")
	}
	return nil
}

func (h *Host) unsubscribe() {
	h.mu.Lock()
	subs := h.subs
	h.subs = nil
	h.mu.Unlock()
	base := strings.TrimSuffix(h.opts.EventBridge, "/")
	for _, id := range subs {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := controlCall(ctx, http.MethodDelete, base+"/eventbridge/subscriptions/"+id, nil, nil); err != nil {
			h.log.Warn().Err(err).Str("subscription", id).Msg("unsubscribe failed")
		}
		cancel()
	}
}

// controlCall is one JSON call to localcloud's control API.
func controlCall(ctx context.Context, method, url string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, bytes.TrimSpace(raw))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: reading the answer: %w", method, url, err)
		}
	}
	return nil
}
