package main

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/fc"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
	"github.com/rs/zerolog"

	"github.com/auditwarden/auditwarden/shared/backfill"
	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/localcloud"
	"github.com/auditwarden/auditwarden/shared/logstore"
	"github.com/auditwarden/auditwarden/shared/settings"
	"github.com/auditwarden/auditwarden/shared/state"
)

type recorder struct {
	mu       sync.Mutex
	payloads []string
}

func (r *recorder) InvokeAsync(_ context.Context, function string, payload []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.payloads = append(r.payloads, function+" "+string(payload))
	return nil
}

// TestHandler runs the function's handler the way fc.Start does (through the SDK's own
// reflection and JSON), against localcloud: a bad payload is refused naming the field; a good
// one advances the job with the policy deployed in the environment, and continues itself.
func TestHandler(t *testing.T) {
	srv, err := localcloud.Start(localcloud.Options{Members: 1, HistoryDays: 2, HistoryPerDay: 120, Seed: 3, LookupRatePerSecond: -1, NoTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	raw, _ := json.Marshal(srv.Info())
	info, err := cloud.ParseLocalcloudInfo(raw)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := info.Session(cloud.WithLimits(map[string]cloud.Limit{"actiontrail:LookupEvents": {}, "oss": {}, "sls": {}}))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.OSS.CreateBucket(info.ManagementAccountID, "aw-state", "private"); err != nil {
		t.Fatal(err)
	}
	doc := "apiVersion: auditwarden/v1\nkind: AuditPolicy\ncentral:\n  accountId: \"" + info.ManagementAccountID +
		"\"\n  region: cn-hangzhou\nbackfill:\n  method: lookup\n  days: 3\n"
	cfg := settings.Config{StateBucket: "aw-state", StatePrefix: "auditwarden", DeployedPolicy: []byte(doc)}
	inv := &recorder{}
	h := newHandler(cfg, zerolog.Nop())
	h.newSession = func(context.Context) (*cloud.Session, error) { return sess, nil }
	h.newInvoker = func(context.Context, *cloud.Session) (backfill.Invoker, error) { return inv, nil }
	h.opts = []backfill.Option{backfill.WithPageLimit(2), backfill.WithReserve(0, 0)}

	ctx := context.Background()
	ossClient, _ := sess.OSS()
	store := state.New(ossClient, cfg.StateBucket, cfg.StatePrefix)
	p, err := backfill.CurrentPolicy(ctx, store, cfg.DeployedPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if err := logstore.New(sess).CreateProject(ctx, p.Backfill.Project, ""); err != nil {
		t.Fatal(err)
	}
	member := srv.Seeded.Members[0].AccountID
	if _, err := backfill.New(sess, store, p, inv, zerolog.Nop()).Start(ctx, []string{member}); err != nil {
		t.Fatal(err)
	}

	invoke := func(payload string) (backfill.StepResult, error) {
		fctx, cancel := context.WithTimeout(fccontext.NewContext(ctx, &fccontext.FcContext{RequestID: "r1", Region: "cn-hangzhou",
			Function: fccontext.Function{Name: "backfill", Timeout: 60}}), time.Minute)
		defer cancel()
		out, err := fc.NewHandler(h.Handle).Invoke(fctx, []byte(payload))
		var res backfill.StepResult
		if err == nil {
			if uerr := json.Unmarshal(out, &res); uerr != nil {
				t.Fatalf("result %s: %v", out, uerr)
			}
		}
		return res, err
	}
	for payload, field := range map[string]string{
		`{"accounts":"` + member + `"}`:         "accounts: must be an array",
		`{"accounts":["` + member + `x"]}`:      "accounts[0]",
		`{"accounts":["` + member + `"],"x":1}`: "x: unknown field",
		`not json`:                              "not JSON",
	} {
		if _, err := invoke(payload); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("payload %s: %v, want an error naming %q", payload, err, field)
		}
	}
	res, err := invoke(`{"accounts":["` + member + `"]}`)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Reinvoked || len(res.Progress) != 1 || res.Progress[0].EventsCopied == 0 || res.Progress[0].EventsCopied > 100 ||
		res.Progress[0].State != backfill.StateRunning {
		t.Fatalf("step result %+v: want at most 2 pages copied and a continuation", res)
	}
	if last := inv.payloads[len(inv.payloads)-1]; last != `backfill {"accounts":["`+member+`"],"hop":1}` {
		t.Errorf("continuation %q", last)
	}
}
