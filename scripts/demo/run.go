package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/actiontrail"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/resourcemanager"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/fchost"
	"github.com/auditwarden/auditwarden/shared/localcloud"
	lclogaudit "github.com/auditwarden/auditwarden/shared/localcloud/logaudit"
	"github.com/auditwarden/auditwarden/shared/logging"
	"github.com/auditwarden/auditwarden/shared/reconcile"
)

type options struct {
	members int
	serve   bool
	logPath string
	config  string
}

// demoPolicy collects every member under the root folder except those tagged audit=exempt, so the
// event path has members to add; it archives to OSS, gives every member a trail of its own
// delivering to the archive bucket, and backfills by LookupEvents.
func demoPolicy(account, root string) string {
	return fmt.Sprintf(`apiVersion: auditwarden/v1
kind: AuditPolicy
central: {accountId: "%s", region: cn-hangzhou}
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
memberTrails: {enabled: true, nameTemplate: "auditwarden-{accountId}", eventRW: Write, trailRegion: All, destination: oss}
backfill: {enabled: true, method: lookup, days: 90}
`, account, root)
}

func step(out io.Writer, n int, format string, args ...any) {
	fmt.Fprintf(out, "\n[%d] %s\n", n, fmt.Sprintf(format, args...))
}

func run(ctx context.Context, o options, out io.Writer) error {
	if err := os.MkdirAll(filepath.Dir(o.logPath), 0o755); err != nil {
		return err
	}
	logFile, err := os.Create(o.logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	log := logging.New(logFile, "demo")

	step(out, 1, "starting localcloud: %d members in folders, some pending, 90 days of ActionTrail history", o.members)
	lc, err := localcloud.Start(localcloud.Options{
		Members: o.members, Folders: 5, Pending: 2, Invited: 3, HistoryDays: 90, HistoryPerDay: 4, Seed: 2026,
		DeliveryInterval: 200 * time.Millisecond,
	})
	if err != nil {
		return fmt.Errorf("localcloud: %w", err)
	}
	defer lc.Close()
	line, _ := json.Marshal(lc.Info())
	info, err := cloud.ParseLocalcloudInfo(line)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "    localcloud at %s (management account %s)\n", lc.Addr(), info.ManagementAccountID)

	step(out, 2, "building and starting the four functions of %s on fchost", o.config)
	creds, err := fchost.NewLocalcloudCredentials(info, log)
	if err != nil {
		return err
	}
	cfg, err := fchost.LoadConfigWith(o.config, fchost.ParseOptions{AccountID: info.ManagementAccountID})
	if err != nil {
		return err
	}
	host, err := fchost.Start(ctx, cfg, fchost.Options{
		Credentials: creds.Get, AccountID: info.ManagementAccountID, EventBridge: info.Endpoints.Control,
		Env: map[string]string{cloud.EnvLocalcloud: string(line), "AUDITWARDEN_LOG_LEVEL": "info"}, Log: logFile,
	})
	if err != nil {
		return fmt.Errorf("fchost: %w", err)
	}
	defer host.Close()
	api := &apiClient{base: host.URL("api"), token: host.Token()}
	fmt.Fprintf(out, "    api at %s\n", api.base)

	lc.World.Mu.RLock()
	root := lc.World.Directory.RootFolderID
	lc.World.Mu.RUnlock()
	step(out, 3, "POST /v1/setup: apply the policy (trail, Logstore, archive bucket, Log Audit list, member trails)")
	var setup reconcile.Report
	if err := api.do(ctx, "POST", "/v1/setup", demoPolicy(info.ManagementAccountID, root), &setup); err != nil {
		return err
	}
	fmt.Fprintf(out, "    %d actions applied, %d failed; %d members, %d compliant, %d pending\n",
		setup.Summary.Applied, setup.Summary.Failed, setup.Summary.Members, setup.Summary.Compliant, setup.Summary.Pending)
	if setup.Summary.Failed > 0 {
		return fmt.Errorf("setup failed:\n%s", setup.Table())
	}

	step(out, 4, "a new member joins through the Resource Manager API; EventBridge → member-events collects it")
	rm, _ := resourcemanager.NewClientWithAccessKey(info.Region, info.AccessKeyID, info.AccessKeySecret)
	rm.Domain = info.Endpoints.RPC
	req := resourcemanager.CreateCreateResourceAccountRequest()
	req.DisplayName, req.AccountNamePrefix = "demo-newcomer", "demo-newcomer"
	joined := time.Now()
	created, err := rm.CreateResourceAccount(req)
	if err != nil {
		return err
	}
	id := created.Account.AccountId
	if err := waitFor(ctx, 20*time.Second, func() bool {
		_, uids := lclogaudit.Members(lc.World, info.ManagementAccountID)
		return slices.Contains(uids, id)
	}); err != nil {
		return fmt.Errorf("member %s was not collected by the event path: %w", id, err)
	}
	fmt.Fprintf(out, "    member %s is in the Log Audit list %s after it was created\n", id, time.Since(joined).Round(time.Millisecond))

	step(out, 5, "someone stops the trail (drift); the reconcile timer heals it")
	at, _ := actiontrail.NewClientWithAccessKey(info.Region, info.AccessKeyID, info.AccessKeySecret)
	at.Domain = info.Endpoints.RPC
	stopReq := actiontrail.CreateStopLoggingRequest()
	stopReq.Name = "auditwarden"
	if _, err := at.StopLogging(stopReq); err != nil {
		return err
	}
	if logging, _ := trailLogging(at); logging {
		return fmt.Errorf("StopLogging did not stop the trail")
	}
	fmt.Fprintln(out, "    trail auditwarden: IsLogging=false")
	if _, err := host.FireTimer(ctx, "reconcile", "incremental-5m"); err != nil {
		return fmt.Errorf("timer: %w", err)
	}
	if ok, err := trailLogging(at); err != nil || !ok {
		return fmt.Errorf("the timer did not heal the trail (logging=%v, %v)", ok, err)
	}
	fmt.Fprintln(out, "    timer fired (incremental): trail auditwarden is logging again")

	step(out, 6, "POST /v1/backfill: copy the 90 days before coverage, by LookupEvents at 2 calls/s per account")
	if err := api.do(ctx, "POST", "/v1/backfill", "", nil); err != nil {
		return err
	}
	var lastCopied int64 = -1
	for i := 0; i < 4; i++ {
		time.Sleep(1500 * time.Millisecond)
		var progress []struct {
			AccountID    string `json:"accountId"`
			State        string `json:"state"`
			EventsCopied int64  `json:"eventsCopied"`
		}
		if err := api.do(ctx, "GET", "/v1/backfill", "", &progress); err != nil {
			return err
		}
		var copied int64
		states := map[string]int{}
		for _, p := range progress {
			copied += p.EventsCopied
			states[p.State]++
		}
		fmt.Fprintf(out, "    %d jobs %v, %d events copied\n", len(progress), states, copied)
		if copied > lastCopied {
			lastCopied = copied
		}
	}
	if lastCopied <= 0 {
		return fmt.Errorf("backfill copied nothing")
	}

	step(out, 7, "final full reconcile and the coverage table (GET /v1/status)")
	if _, err := host.FireTimer(ctx, "reconcile", "full-hourly"); err != nil {
		return fmt.Errorf("timer: %w", err)
	}
	var status reconcile.Report
	if err := api.do(ctx, "GET", "/v1/status", "", &status); err != nil {
		return err
	}
	fmt.Fprintln(out)
	fmt.Fprint(out, status.Table())
	var jobs []struct {
		State        string `json:"state"`
		EventsCopied int64  `json:"eventsCopied"`
	}
	if err := api.do(ctx, "GET", "/v1/backfill", "", &jobs); err != nil {
		return err
	}
	states, copied := map[string]int{}, int64(0)
	for _, j := range jobs {
		states[j.State]++
		copied += j.EventsCopied
	}
	fmt.Fprintf(out, "backfill (per member on the status page): %d jobs %v, %d events copied so far\n", len(jobs), states, copied)
	fmt.Fprintf(out, "\nstatus page: %s/  (run `go run ./scripts/demo -serve` to keep it up)\n", api.base)
	if !status.Converged() || status.Summary.Compliant != status.Summary.Members-status.Summary.Pending {
		return fmt.Errorf("the organization is not compliant: %d of %d members", status.Summary.Compliant, status.Summary.Members)
	}
	if o.serve {
		fmt.Fprintln(out, "serving until interrupted...")
		<-ctx.Done()
	}
	return nil
}

func trailLogging(at *actiontrail.Client) (bool, error) {
	req := actiontrail.CreateGetTrailStatusRequest()
	req.Name = "auditwarden"
	st, err := at.GetTrailStatus(req)
	if err != nil {
		return false, err
	}
	return st.IsLogging, nil
}

func waitFor(ctx context.Context, limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up after %s", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

type apiClient struct {
	base, token string
}

func (c *apiClient) do(ctx context.Context, method, path, body string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/yaml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(raw))
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}
