package actiontrail

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	atsdk "github.com/aliyun/alibaba-cloud-sdk-go/services/actiontrail"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// fakeSLS is a small SLS: projects with owners, service Logstores with TTLs, written logs.
type fakeSLS struct {
	mu        sync.Mutex
	projects  map[string]string
	stores    map[string]int
	logs      map[string][]fakeLog
	writeErr  error
	ensureErr error
	ensures   int
}

type fakeLog struct {
	topic, source string
	log           core.ServiceLog
}

func newFakeSLS() *fakeSLS {
	return &fakeSLS{projects: map[string]string{}, stores: map[string]int{}, logs: map[string][]fakeLog{}}
}

func (f *fakeSLS) ProjectOwner(p string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.projects[p]
	return o, ok
}

func (f *fakeSLS) EnsureServiceLogstore(project, logstore string, ttl int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ensures++
	if f.ensureErr != nil {
		return f.ensureErr
	}
	if _, ok := f.projects[project]; !ok {
		return fmt.Errorf("ProjectNotExist: %s", project)
	}
	// As the SLS emulator: ttl 0 keeps an existing Logstore's retention, or gives a new one 180 days.
	if _, exists := f.stores[project+"/"+logstore]; !exists && ttl == 0 {
		ttl = 180
	}
	if ttl > 0 {
		f.stores[project+"/"+logstore] = ttl
	}
	return nil
}

func (f *fakeSLS) ServiceWrite(project, logstore, topic, source string, logs []core.ServiceLog) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.writeErr != nil {
		return f.writeErr
	}
	if _, ok := f.stores[project+"/"+logstore]; !ok {
		return fmt.Errorf("LogStoreNotExist: %s/%s", project, logstore)
	}
	for _, l := range logs {
		f.logs[project+"/"+logstore] = append(f.logs[project+"/"+logstore], fakeLog{topic, source, l})
	}
	return nil
}

func (f *fakeSLS) CreateServiceProject(owner, project, region string) error {
	f.addProject(owner, project)
	return nil
}

func (f *fakeSLS) addProject(owner, project string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.projects[project] = owner
}

// dropProject deletes a project with its Logstores, as DeleteProject does.
func (f *fakeSLS) dropProject(project string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.projects, project)
	for k := range f.stores {
		if strings.HasPrefix(k, project+"/") {
			delete(f.stores, k)
			delete(f.logs, k)
		}
	}
}

func (f *fakeSLS) setWriteErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writeErr = err
}

func (f *fakeSLS) written(project, logstore string) []fakeLog {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeLog(nil), f.logs[project+"/"+logstore]...)
}

func (f *fakeSLS) ttl(project, logstore string) (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.stores[project+"/"+logstore]
	return t, ok
}

// fakeOSS is a small OSS: buckets with owners and write-once objects.
type fakeOSS struct {
	mu      sync.Mutex
	buckets map[string]string
	objects map[string][]byte
}

func newFakeOSS() *fakeOSS {
	return &fakeOSS{buckets: map[string]string{}, objects: map[string][]byte{}}
}

func (f *fakeOSS) BucketOwner(b string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.buckets[b]
	return o, ok
}

func (f *fakeOSS) ServicePut(bucket, key string, body []byte, contentType string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.buckets[bucket]; !ok {
		return fmt.Errorf("NoSuchBucket: %s", bucket)
	}
	if _, ok := f.objects[bucket+"/"+key]; ok {
		return fmt.Errorf("FileAlreadyExists: %s", key)
	}
	f.objects[bucket+"/"+key] = append([]byte(nil), body...)
	return nil
}

func (f *fakeOSS) setBucket(bucket, owner string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if owner == "" {
		delete(f.buckets, bucket)
		return
	}
	f.buckets[bucket] = owner
}

func (f *fakeOSS) objectsIn(bucket string) map[string][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string][]byte{}
	for k, v := range f.objects {
		if rest, ok := strings.CutPrefix(k, bucket+"/"); ok {
			out[rest] = v
		}
	}
	return out
}

// fixture is a world with a directory (management + one member + one outsider), fake SLS and
// OSS, the service behind a real RPC gateway, and a manual clock.
type fixture struct {
	w        *core.World
	clock    *core.ManualClock
	svc      *Service
	srv      *httptest.Server
	sls      *fakeSLS
	oss      *fakeOSS
	mgmt     *core.AccessKey
	member   string
	memberAK *core.AccessKey
	outsider string
	outAK    *core.AccessKey

	mu      sync.Mutex
	methods map[string]string // action -> HTTP method of its last call
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	f := &fixture{clock: core.NewManualClock(time.Now()), sls: newFakeSLS(), oss: newFakeOSS(), methods: map[string]string{}}
	f.w = core.NewWorld("cn-hangzhou", f.clock)
	f.w.SLS, f.w.OSS = f.sls, f.oss
	f.w.Mu.Lock()
	f.w.EnableDirectoryLocked(core.NewAccountID(), "mgmt")
	f.mgmt = f.w.NewAccessKeyLocked(f.w.ManagementAccountID, "")
	f.member = core.NewAccountID()
	m := f.w.AddAccountLocked(f.member, "dev-01", "ResourceAccount")
	f.w.JoinDirectoryLocked(m, f.w.Directory.RootFolderID, "CreateSuccess", "created")
	f.memberAK = f.w.NewAccessKeyLocked(f.member, "")
	f.outsider = core.NewAccountID()
	f.w.AddAccountLocked(f.outsider, "stranger", "CloudAccount")
	f.outAK = f.w.NewAccessKeyLocked(f.outsider, "")
	f.w.Mu.Unlock()
	if opts.FlushInterval == 0 {
		opts.FlushInterval = time.Hour // tests drive passes with Tick/Flush
	}
	f.svc = New(f.w, opts)
	t.Cleanup(f.svc.Close)
	rpc := core.NewRPCServer(f.w)
	rpc.Register(f.svc.RPC())
	f.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.methods[r.URL.Query().Get("Action")] = r.Method
		f.mu.Unlock()
		rpc.ServeHTTP(rw, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) host() string { return strings.TrimPrefix(f.srv.URL, "http://") }

func (f *fixture) method(action string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.methods[action]
}

func (f *fixture) client(t *testing.T, key *core.AccessKey) *atsdk.Client {
	return f.regionClient(t, key, "cn-hangzhou")
}

func (f *fixture) regionClient(t *testing.T, key *core.AccessKey, region string) *atsdk.Client {
	t.Helper()
	c, err := atsdk.NewClientWithAccessKey(region, key.ID, key.Secret)
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = f.host()
	return c
}

func (f *fixture) newKey(account string) *core.AccessKey {
	f.w.Mu.Lock()
	defer f.w.Mu.Unlock()
	return f.w.NewAccessKeyLocked(account, "")
}

func (f *fixture) roleTrusting(account, name string, services ...string) string {
	f.w.Mu.Lock()
	defer f.w.Mu.Unlock()
	r := f.w.EnsureRoleLocked(account, name, core.TrustPolicyForServices(services...))
	return r.ARN()
}

func slsARN(account, project string) string {
	return "acs:log:cn-hangzhou:" + account + ":project/" + project
}

// serverError returns the code and HTTP status of an SDK error ("" and 0 when err is no ServerError).
func serverError(err error) (string, int) {
	var se *sdkerrors.ServerError
	if errors.As(err, &se) {
		return se.ErrorCode(), se.HttpStatus()
	}
	return "", 0
}

func mustCode(t *testing.T, err error, code string, status int) {
	t.Helper()
	got, st := serverError(err)
	if got != code || st != status {
		t.Fatalf("error = %q %d, want %q %d (err %v)", got, st, code, status, err)
	}
}

func createReq(name string) *atsdk.CreateTrailRequest {
	r := atsdk.CreateCreateTrailRequest()
	r.Name = name
	return r
}

// record stores a live record for account as the gateway would.
func (f *fixture) record(account, name, rw, region string) *core.Event {
	ev := &core.Event{
		EventName: name, EventSource: "ecs.aliyuncs.com", EventType: "ApiCall", EventRW: rw, AcsRegion: region,
		ServiceName: "Ecs", RecipientAccountID: account, UserIdentity: core.UserIdentity{Type: core.PrincipalRoot, AccountID: account, PrincipalID: account},
	}
	f.w.Recorder.Record(ev)
	return ev
}
