package resourcemanager_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	rm "github.com/aliyun/alibaba-cloud-sdk-go/services/resourcemanager"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	"github.com/auditwarden/auditwarden/shared/localcloud/identity"
	"github.com/auditwarden/auditwarden/shared/localcloud/resourcemanager"
)

// fixture is a world with a directory, served on a loopback port to the real SDK.
type fixture struct {
	w     *core.World
	clock *core.ManualClock
	srv   *httptest.Server
	mgmt  *core.AccessKey
}

func newFixture(t *testing.T, opts resourcemanager.Options) *fixture {
	t.Helper()
	f := &fixture{clock: core.NewManualClock(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))}
	f.w = core.NewWorld("cn-hangzhou", f.clock)
	f.w.Mu.Lock()
	f.w.EnableDirectoryLocked(core.NewAccountID(), "mgmt")
	f.mgmt = f.w.NewAccessKeyLocked(f.w.ManagementAccountID, "")
	f.w.Mu.Unlock()
	rpc := core.NewRPCServer(f.w)
	rpc.Register(resourcemanager.NewService(opts))
	rpc.Register(identity.RAM())
	f.srv = httptest.NewServer(rpc)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) client(t *testing.T, k *core.AccessKey) *rm.Client {
	t.Helper()
	c, err := rm.NewClientWithAccessKey("cn-hangzhou", k.ID, k.Secret)
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = strings.TrimPrefix(f.srv.URL, "http://")
	return c
}

// member makes a created member (CreateSuccess ResourceAccount) with its own root key.
func (f *fixture) member(t *testing.T, name string) (string, *core.AccessKey) {
	t.Helper()
	f.w.Mu.Lock()
	defer f.w.Mu.Unlock()
	id := core.NewAccountID()
	a := f.w.AddAccountLocked(id, name, "ResourceAccount")
	f.w.JoinDirectoryLocked(a, f.w.Directory.RootFolderID, "CreateSuccess", "created")
	return id, f.w.NewAccessKeyLocked(id, "")
}

// outsider makes an Alibaba Cloud account outside the directory, with its own root key.
func (f *fixture) outsider(t *testing.T, name string) (string, *core.AccessKey) {
	t.Helper()
	f.w.Mu.Lock()
	defer f.w.Mu.Unlock()
	id := core.NewAccountID()
	f.w.AddAccountLocked(id, name, "CloudAccount")
	return id, f.w.NewAccessKeyLocked(id, "")
}

func (f *fixture) delegate(t *testing.T, id, svc string) {
	t.Helper()
	f.w.Mu.Lock()
	defer f.w.Mu.Unlock()
	if f.w.DelegatedAdmins[svc] == nil {
		f.w.DelegatedAdmins[svc] = map[string]time.Time{}
	}
	f.w.DelegatedAdmins[svc][id] = f.w.Now()
}

// records are the account's ActionTrail history so far.
func (f *fixture) records(account string) []*core.Event {
	return f.w.Recorder.Window(account, time.Time{}, f.clock.Now().Add(time.Hour))
}

// lastRecord is the account's latest successful record of an action.
func (f *fixture) lastRecord(t *testing.T, account, name string) *core.Event {
	t.Helper()
	return f.findRecord(t, account, name, false)
}

// lastFailure is the account's latest failed record of an action.
func (f *fixture) lastFailure(t *testing.T, account, name string) *core.Event {
	t.Helper()
	return f.findRecord(t, account, name, true)
}

func (f *fixture) findRecord(t *testing.T, account, name string, failed bool) *core.Event {
	t.Helper()
	evs := f.records(account)
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].EventName == name && (evs[i].ErrorCode != "") == failed {
			return evs[i]
		}
	}
	t.Fatalf("no %s record (failed=%v) in %s's history (%d records)", name, failed, account, len(evs))
	return nil
}

func serverError(err error) (status int, code string) {
	var se *sdkerrors.ServerError
	if errors.As(err, &se) {
		return se.HttpStatus(), se.ErrorCode()
	}
	return 0, ""
}

// wantError asserts an API error's HTTP status and code.
func wantError(t *testing.T, err error, status int, code string) {
	t.Helper()
	gotStatus, gotCode := serverError(err)
	if gotStatus != status || gotCode != code {
		t.Fatalf("error = %d %q, want %d %q (err %v)", gotStatus, gotCode, status, code, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
