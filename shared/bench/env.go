package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/resourcemanager"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/fchost"
	"github.com/auditwarden/auditwarden/shared/localcloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// buildFunctions compiles every function of the s.yaml as its pre-deploy action does for FC
// (CGO_ENABLED=0, -trimpath -ldflags "-s -w", linux/amd64 when this machine is one), into
// dir/<function>/<handler>. The sizes are then those of the deployed artifacts.
func buildFunctions(ctx context.Context, cfg *fchost.Config, dir string) (map[string]string, error) {
	out := map[string]string{}
	for _, fn := range cfg.Functions {
		if fn.Build == nil {
			return nil, fmt.Errorf("function %s has no go build pre-deploy action", fn.Name)
		}
		bin, err := filepath.Abs(filepath.Join(dir, fn.Name, fn.Handler))
		if err != nil {
			return nil, err
		}
		args := append(append([]string{"build"}, fn.Build.Flags...), "-o", bin)
		args = append(args, fn.Build.Targets...)
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = fn.Build.Dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("building %s (go %s): %v\n%s", fn.Name, strings.Join(args, " "), err, buf.String())
		}
		out[fn.Name] = bin
	}
	return out, nil
}

// world is one localcloud with the bench's latency and rate limits, and what is needed to run the
// functions against it.
type world struct {
	s           *suite
	members     int
	srv         *localcloud.Server
	info        cloud.LocalcloudInfo
	line        []byte
	cfg         *fchost.Config
	root        string
	stateBucket string
	creds       func(ctx context.Context, role string) (ak, sk, token string, expires time.Time, err error)
	// memberTrails turns on the policy's memberTrails (OSS destination: SLS would need a
	// Logstore per member, past its 200 a project).
	memberTrails bool
}

// worldOptions are localcloud's options for a directory of n members: a folder per 200 members
// (at least 4), 0.5% pending, 10% invited, the bench's latency and the rate table.
func (s *suite) worldOptions(n int) localcloud.Options {
	return localcloud.Options{
		Members: n, Folders: max(4, n/200), Pending: n / 200, Invited: n / 10, Seed: 7,
		Faults:              core.FaultConfig{LatencyMs: s.o.LatencyMs, RateLimits: ServerRateLimits(Limits), Seed: 1},
		LookupRatePerSecond: 2,
	}
}

func (s *suite) newWorld(ctx context.Context, opts localcloud.Options) (*world, error) {
	srv, err := localcloud.Start(opts)
	if err != nil {
		return nil, fmt.Errorf("localcloud: %w", err)
	}
	w := &world{s: s, members: opts.Members, srv: srv}
	w.line, _ = json.Marshal(srv.Info())
	if w.info, err = cloud.ParseLocalcloudInfo(w.line); err != nil {
		srv.Close()
		return nil, err
	}
	srv.World.Mu.RLock()
	w.root = srv.World.Directory.RootFolderID
	srv.World.Mu.RUnlock()
	if s.cfgPath != "" {
		if w.cfg, err = fchost.LoadConfigWith(s.cfgPath, fchost.ParseOptions{AccountID: w.info.ManagementAccountID}); err != nil {
			srv.Close()
			return nil, err
		}
		lc, err := fchost.NewLocalcloudCredentials(w.info, s.log)
		if err != nil {
			srv.Close()
			return nil, err
		}
		w.creds = cachedCredentials(lc.Get)
		// The state bucket exists before the first run (setup makes it; the timer expects it). It
		// is made through the backend, so it costs no call in the figures.
		if w.stateBucket = w.cfg.Functions[0].Env["AUDITWARDEN_STATE_BUCKET"]; w.stateBucket == "" {
			srv.Close()
			return nil, fmt.Errorf("%s: AUDITWARDEN_STATE_BUCKET is not set for %s", s.cfgPath, w.cfg.Functions[0].Name)
		}
		if err := srv.OSS.CreateBucket(w.info.ManagementAccountID, w.stateBucket, "private"); err != nil {
			srv.Close()
			return nil, fmt.Errorf("state bucket: %w", err)
		}
		// The function role's credentials are fetched now, so no run pays for them.
		if role := w.cfg.Functions[0].Role; role != "" {
			if _, _, _, _, err := w.creds(ctx, role); err != nil {
				srv.Close()
				return nil, fmt.Errorf("function role credentials: %w", err)
			}
		}
	}
	return w, nil
}

func (w *world) close() { w.srv.Close() }

// cachedCredentials keeps each role's STS credentials across hosts until ten minutes before
// they expire, so starting a host per case adds no AssumeRole to the case's figures.
func cachedCredentials(get func(ctx context.Context, role string) (string, string, string, time.Time, error)) func(context.Context, string) (string, string, string, time.Time, error) {
	type entry struct {
		ak, sk, token string
		exp           time.Time
	}
	var mu sync.Mutex
	cache := map[string]entry{}
	return func(ctx context.Context, role string) (string, string, string, time.Time, error) {
		mu.Lock()
		defer mu.Unlock()
		if e, ok := cache[role]; ok && time.Until(e.exp) > 10*time.Minute {
			return e.ak, e.sk, e.token, e.exp, nil
		}
		ak, sk, token, exp, err := get(ctx, role)
		if err != nil {
			return "", "", "", time.Time{}, err
		}
		cache[role] = entry{ak, sk, token, exp}
		return ak, sk, token, exp, nil
	}
}

// policy is the organization's policy in the bench: every member under the root folder except
// those tagged audit=exempt, SLS and an OSS archive, backfill by LookupEvents when asked.
func (w *world) policy(backfill bool) string {
	bf := "backfill: {enabled: false}"
	if backfill {
		bf = "backfill: {enabled: true, method: lookup, days: 90}"
	}
	mt := "memberTrails: {enabled: false}"
	if w.memberTrails {
		mt = `memberTrails: {enabled: true, nameTemplate: "auditwarden-{accountId}", eventRW: All, trailRegion: All, destination: oss}`
	}
	return fmt.Sprintf(`apiVersion: auditwarden/v1
kind: AuditPolicy
central: {accountId: "%s", region: %s}
trail: {name: auditwarden, eventRW: All, trailRegion: All, organization: true}
destinations:
  sls: {enabled: true, ttlDays: 365}
  oss: {enabled: true, encryption: AES256, retentionDays: 30, lifecycle: {expireDays: 400}}
logAudit:
  region: cn-shanghai
  mode: resourceDirectory
  resourceDirectory:
    members: custom
    include: {folders: [%s]}
    exclude: {tags: [audit=exempt]}
%s
%s
`, w.info.ManagementAccountID, w.info.Region, w.root, bf, mt)
}

// host runs the named functions of the s.yaml on fchost against this world, from the prebuilt
// binaries, with their timers off (a timer firing mid-case would skew it) and their EventBridge
// triggers subscribed only when eventBridge is set. observe sees every finished invocation.
func (w *world) host(ctx context.Context, functions []string, policyYAML string, eventBridge bool, observe func(fchost.Record)) (*fchost.Host, error) {
	cfg := *w.cfg
	cfg.Functions = nil
	for _, name := range functions {
		var spec *fchost.Function
		for _, f := range w.cfg.Functions {
			if f.Name == name {
				spec = f
			}
		}
		if spec == nil {
			return nil, fmt.Errorf("%s has no function %s", w.s.cfgPath, name)
		}
		fn := *spec
		fn.Triggers = nil
		for _, t := range spec.Triggers {
			tc := *t
			switch {
			case t.Timer != nil:
				timer := *t.Timer
				timer.Enable = false
				tc.Timer = &timer
			case t.EventBridge != nil:
				eb := *t.EventBridge
				eb.Enable = eventBridge
				tc.EventBridge = &eb
			}
			fn.Triggers = append(fn.Triggers, &tc)
		}
		cfg.Functions = append(cfg.Functions, &fn)
	}
	opts := fchost.Options{
		Credentials: w.creds, AccountID: w.info.ManagementAccountID, Binaries: w.s.binaries, Log: w.s.logw,
		Env: map[string]string{
			cloud.EnvLocalcloud: string(w.line), "AUDITWARDEN_POLICY": policyYAML, "AUDITWARDEN_LOG_LEVEL": "info",
		},
		Observer: observe,
	}
	if eventBridge {
		opts.EventBridge = w.info.Endpoints.Control
	}
	return fchost.Start(ctx, &cfg, opts)
}

// instance finds the running process of a function started by host, waiting briefly for it.
func (w *world) instance(ctx context.Context, function string) (int, error) {
	bin := w.s.binaries[function]
	deadline := time.Now().Add(5 * time.Second)
	for {
		pid, err := childOf(bin)
		if err == nil || err == errNoProc || time.Now().After(deadline) {
			return pid, err
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// createAccounts adds n resource accounts under the root folder through Resource Manager, as the
// management account would.
func (w *world) createAccounts(n int, prefix string) ([]string, error) {
	rm, err := resourcemanager.NewClientWithAccessKey(w.info.Region, w.info.AccessKeyID, w.info.AccessKeySecret)
	if err != nil {
		return nil, err
	}
	rm.Domain = w.info.Endpoints.RPC
	var ids []string
	for i := 0; i < n; i++ {
		id, err := createAccount(rm, fmt.Sprintf("%s-%d", prefix, i))
		if err != nil {
			return ids, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func createAccount(rm *resourcemanager.Client, name string) (string, error) {
	req := resourcemanager.CreateCreateResourceAccountRequest()
	req.DisplayName, req.AccountNamePrefix = name, name
	for attempt := 0; ; attempt++ {
		resp, err := rm.CreateResourceAccount(req)
		if err == nil {
			return resp.Account.AccountId, nil
		}
		// The bench's own calls share the management account's Resource Manager limit.
		if cloud.Classify(err) != cloud.Throttled || attempt >= 20 {
			return "", fmt.Errorf("CreateResourceAccount %s: %w", name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func hostInfo() HostInfo {
	return HostInfo{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
}
