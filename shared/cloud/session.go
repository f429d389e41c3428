package cloud

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/actiontrail"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/resourcemanager"
	logaudit "github.com/aliyun/alibaba-cloud-sdk-go/services/sls"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"
	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
	"github.com/rs/zerolog"
)

// UserAgent is appended to every SDK's user agent, so calls can be told apart in ActionTrail.
const UserAgent = "auditwarden"

// Clock is what a Session reads the time from (credential expiry); *core.ManualClock fits.
type Clock interface{ Now() time.Time }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

type config struct {
	retry          RetryPolicy
	limits         map[string]Limit
	log            zerolog.Logger
	clock          Clock
	roleName       string
	sessionName    string
	duration       time.Duration
	refreshBefore  time.Duration
	assumeTimeout  time.Duration
	accountID      string
	connectTimeout time.Duration
	readTimeout    time.Duration
	slsRetry       time.Duration
	transport      *http.Transport
}

// Option configures a Session (and the Retrier inside it).
type Option func(*config)

func newConfig(opts []Option) *config {
	c := &config{
		retry:          DefaultRetryPolicy,
		limits:         DefaultLimits(),
		log:            zerolog.Nop(),
		clock:          wallClock{},
		roleName:       DefaultMemberRole,
		sessionName:    "auditwarden",
		duration:       time.Hour,
		refreshBefore:  5 * time.Minute,
		assumeTimeout:  30 * time.Second,
		connectTimeout: 5 * time.Second,
		readTimeout:    20 * time.Second,
		slsRetry:       10 * time.Second,
	}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	return c
}

// WithRetryPolicy replaces DefaultRetryPolicy (zero fields keep their defaults).
func WithRetryPolicy(p RetryPolicy) Option { return func(c *config) { c.retry = p } }

// WithLimits overrides rows of DefaultLimits; a Limit with PerSecond <= 0 lifts the limit.
func WithLimits(l map[string]Limit) Option {
	return func(c *config) {
		for k, v := range l {
			c.limits[k] = v
		}
	}
}

// WithLogger sets the zerolog logger (default: none). Credentials never reach it.
func WithLogger(l zerolog.Logger) Option { return func(c *config) { c.log = l } }

// WithClock sets the clock used for credential expiry (default: the wall clock).
func WithClock(clk Clock) Option {
	return func(c *config) {
		if clk != nil {
			c.clock = clk
		}
	}
}

// WithRoleName sets the role ForAccount assumes in members (default ResourceDirectoryAccountAccessRole).
func WithRoleName(name string) Option { return func(c *config) { c.roleName = name } }

// WithRoleSessionName sets the RoleSessionName, which members see in their ActionTrail records
// (default "auditwarden"; 2 to 64 of [A-Za-z0-9.@_-]).
func WithRoleSessionName(name string) Option { return func(c *config) { c.sessionName = name } }

// WithSessionDuration sets AssumeRole's DurationSeconds (default 1 h, 15 min at least; a role
// chain, as from an FC function role, is capped at 1 h by STS).
func WithSessionDuration(d time.Duration) Option { return func(c *config) { c.duration = d } }

// WithRefreshBefore sets how long before expiry a cached member credential is renewed (default 5 min).
func WithRefreshBefore(d time.Duration) Option { return func(c *config) { c.refreshBefore = d } }

// WithAccountID tells the Session which account its base credentials belong to, which saves a
// GetCallerIdentity call the first time ForAccount needs it.
func WithAccountID(id string) Option { return func(c *config) { c.accountID = id } }

// WithTimeouts sets the connect and read timeouts of every SDK call (defaults 5 s and 20 s).
// A call already on the wire is bounded by these, not by Do's ctx: the RPC SDK takes no context.
func WithTimeouts(connect, read time.Duration) Option {
	return func(c *config) {
		if connect > 0 {
			c.connectTimeout = connect
		}
		if read > 0 {
			c.readTimeout = read
		}
	}
}

// WithTransport makes the session use t as its connection pool, so that sessions made one per
// invocation in a long-lived FC instance keep their connections warm.
func WithTransport(t *http.Transport) Option { return func(c *config) { c.transport = t } }

// WithSLSRetryTimeout bounds the log SDK's own internal retries of transport errors and 5xx
// (its default is 90 s; ours is 10 s, since Do retries too).
func WithSLSRetryTimeout(d time.Duration) Option { return func(c *config) { c.slsRetry = d } }

func (c *config) validate() error {
	if !sessionNameRE.MatchString(c.sessionName) {
		return fmt.Errorf("session: RoleSessionName %q must be 2 to 64 characters of [A-Za-z0-9.@_-]", c.sessionName)
	}
	if c.roleName == "" || strings.ContainsAny(c.roleName, ":/ ") {
		return fmt.Errorf("session: role name %q must be a RAM role name", c.roleName)
	}
	if c.duration < 15*time.Minute || c.duration > 12*time.Hour {
		return fmt.Errorf("session: session duration %v must be from 15m to 12h", c.duration)
	}
	if c.refreshBefore < 0 || c.refreshBefore >= c.duration {
		return fmt.Errorf("session: refresh-before %v must be from 0 to less than the session duration %v", c.refreshBefore, c.duration)
	}
	if c.accountID != "" && !accountIDRE.MatchString(c.accountID) {
		return fmt.Errorf("session: account id %q must be digits", c.accountID)
	}
	return nil
}

// Session holds credentials and endpoints and builds SDK clients from them. Make one per
// process or invocation; ForAccount derives member sessions that share its connection pool,
// rate limiters, metrics and credential cache.
//
// The RPC SDK's clients (ResourceManager, ActionTrail, STS, RAM, LogAudit) are not safe for
// concurrent use (each call rewrites its http.Client), so every getter returns a new client:
// take one per goroutine. Building one makes no network call and reuses the shared pool.
type Session struct {
	creds   Credentials
	ep      Endpoints
	account string   // the member account; unused on a root (see shared.rootAccount)
	root    *Session // nil for the root session
	sh      *shared
}

type shared struct {
	cfg       *config
	retrier   *Retrier
	transport *http.Transport
	rpcRT     http.RoundTripper
	slsHTTP   *http.Client
	ossHTTP   *http.Client

	mu          sync.Mutex
	rootAccount string
	members     map[string]*Session
	assumes     flight[*Session]
	whoami      flight[string]
}

// NewSession makes a root session from base credentials (the function's role, an environment
// key, or localcloud's management key) and endpoints.
func NewSession(creds Credentials, ep Endpoints, opts ...Option) (*Session, error) {
	if err := creds.Validate(); err != nil {
		return nil, err
	}
	if err := ep.Validate(); err != nil {
		return nil, err
	}
	cfg := newConfig(opts)
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	tr := cfg.transport
	if tr == nil {
		tr = newTransport(cfg.connectTimeout)
	}
	sh := &shared{
		cfg:       cfg,
		retrier:   newRetrier(cfg),
		transport: tr,
		rpcRT:     opaqueTransport{tr},
		// The OSS SDK's own read/write timeouts only apply to transports it builds; this bounds a
		// whole request instead, generously, as archive objects can be large.
		ossHTTP:     &http.Client{Transport: ossTransport(tr, ep), CheckRedirect: noRedirect, Timeout: 10 * cfg.readTimeout},
		rootAccount: cfg.accountID,
		members:     map[string]*Session{},
	}
	if ep.SLSDial != "" {
		sh.slsHTTP = slsHTTPClient(ep.SLSDial, cfg.connectTimeout, 3*cfg.readTimeout)
	} else {
		sh.slsHTTP = &http.Client{Transport: tr, Timeout: 3 * cfg.readTimeout}
	}
	// A root's account lives in sh.rootAccount: it may be learnt later (CallerAccount).
	return &Session{creds: creds, ep: ep, sh: sh}, nil
}

// OSS answers redirects itself (the SDK disables following them on its own clients).
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// NewSessionFromFC makes the root session of an FC invocation: the function role's
// credentials and account from fccontext.
func NewSessionFromFC(ctx context.Context, ep Endpoints, opts ...Option) (*Session, error) {
	creds, err := FromFC(ctx)
	if err != nil {
		return nil, err
	}
	if fc, ok := fccontext.FromContext(ctx); ok && accountIDRE.MatchString(fc.AccountId) {
		opts = append([]Option{WithAccountID(fc.AccountId)}, opts...)
	}
	return NewSession(creds, ep, opts...)
}

// NewSessionFromEnv is the usual way a function's main builds its session: endpoints from
// EndpointsFromEnv; credentials from the FC context when ctx carries one, else from
// ALIBABA_CLOUD_* variables, else localcloud's management key.
func NewSessionFromEnv(ctx context.Context, opts ...Option) (*Session, error) {
	ep, info, err := endpointsFromEnv()
	if err != nil {
		return nil, err
	}
	if _, ok := fccontext.FromContext(ctx); ok {
		return NewSessionFromFC(ctx, ep, opts...)
	}
	creds, envErr := FromEnv()
	if envErr == nil {
		return NewSession(creds, ep, opts...)
	}
	if info != nil {
		opts = append([]Option{WithAccountID(info.ManagementAccountID)}, opts...)
		return NewSession(info.Credentials(), ep, opts...)
	}
	return nil, envErr
}

// Credentials returns the session's credentials (redacted whenever printed).
func (s *Session) Credentials() Credentials { return s.creds }

// Endpoints returns where the session's clients connect.
func (s *Session) Endpoints() Endpoints { return s.ep }

// AccountID is the account the session acts in, "" when a root session has not learnt it yet
// (see CallerAccount).
func (s *Session) AccountID() string {
	if s.root == nil {
		s.sh.mu.Lock()
		defer s.sh.mu.Unlock()
		return s.sh.rootAccount
	}
	return s.account
}

// Do is Retrier.Do with the session's shared limiters, policy and metrics.
func (s *Session) Do(ctx context.Context, api string, fn func() error) error {
	return s.sh.retrier.Do(ctx, api, fn)
}

// Retrier returns the shared Retrier.
func (s *Session) Retrier() *Retrier { return s.sh.retrier }

// Metrics returns the shared call counters.
func (s *Session) Metrics() *Metrics { return s.sh.retrier.metrics }

// CloseIdleConnections closes the pooled connections nobody is using (for a PreStop hook).
func (s *Session) CloseIdleConnections() {
	s.sh.transport.CloseIdleConnections()
	s.sh.slsHTTP.CloseIdleConnections()
}

// Logger returns the session's logger.
func (s *Session) Logger() zerolog.Logger { return s.sh.cfg.log }

// String describes the session without its credentials.
func (s *Session) String() string {
	return fmt.Sprintf("cloud.Session{account: %s, region: %s, local: %t, key: %s}",
		s.AccountID(), s.ep.Region, s.ep.Local, maskedID(s.creds.AccessKeyID))
}

// Format keeps every fmt verb on String, so %+v never walks into the credentials.
func (s *Session) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// rpcClient applies the session to one of alibaba-cloud-sdk-go's generated clients.
// sdkEndpointTables fills the RPC SDK's per-product endpoint tables once: each NewClient* call
// lazily writes a package-level map without synchronization, a data race when the first clients
// of a product are made from concurrent goroutines.
var sdkEndpointTables sync.Once

func fillSDKEndpointTables() {
	sdkEndpointTables.Do(func() {
		resourcemanager.GetEndpointMap()
		actiontrail.GetEndpointMap()
		sts.GetEndpointMap()
		ram.GetEndpointMap()
		logaudit.GetEndpointMap()
	})
}

func rpcClient[C any](s *Session, region, domain string,
	withKey func(region, ak, sk string) (C, error),
	withToken func(region, ak, sk, token string) (C, error),
	base func(C) *sdk.Client,
) (C, error) {
	fillSDKEndpointTables()
	var c C
	var err error
	if s.creds.SecurityToken != "" {
		c, err = withToken(region, s.creds.AccessKeyID, s.creds.AccessKeySecret, s.creds.SecurityToken)
	} else {
		c, err = withKey(region, s.creds.AccessKeyID, s.creds.AccessKeySecret)
	}
	if err != nil {
		return c, err
	}
	b := base(c)
	// Domain beats the SDK's endpoint tables, so the same code reaches localcloud.
	b.Domain = domain
	b.SetTransport(s.sh.rpcRT)
	b.GetConfig().Scheme = strings.ToUpper(s.ep.Scheme)
	b.SetConnectTimeout(s.sh.cfg.connectTimeout)
	b.SetReadTimeout(s.sh.cfg.readTimeout)
	b.AppendUserAgent(UserAgent, "1")
	return c, nil
}

// ResourceManager returns a Resource Manager (2020-03-31) client.
func (s *Session) ResourceManager() (*resourcemanager.Client, error) {
	return rpcClient(s, s.ep.Region, s.ep.ResourceManager, resourcemanager.NewClientWithAccessKey, resourcemanager.NewClientWithStsToken,
		func(c *resourcemanager.Client) *sdk.Client { return &c.Client })
}

// ActionTrail returns an ActionTrail (2020-07-06) client.
func (s *Session) ActionTrail() (*actiontrail.Client, error) {
	return rpcClient(s, s.ep.Region, s.ep.ActionTrail, actiontrail.NewClientWithAccessKey, actiontrail.NewClientWithStsToken,
		func(c *actiontrail.Client) *sdk.Client { return &c.Client })
}

// STS returns an STS (2015-04-01) client.
func (s *Session) STS() (*sts.Client, error) {
	return rpcClient(s, s.ep.Region, s.ep.STS, sts.NewClientWithAccessKey, sts.NewClientWithStsToken,
		func(c *sts.Client) *sdk.Client { return &c.Client })
}

// RAM returns a RAM (2015-05-01) client.
func (s *Session) RAM() (*ram.Client, error) {
	return rpcClient(s, s.ep.Region, s.ep.RAM, ram.NewClientWithAccessKey, ram.NewClientWithStsToken,
		func(c *ram.Client) *sdk.Client { return &c.Client })
}

// LogAudit returns the Log Audit client (SLS RPC 2019-10-23 on <region>.log.aliyuncs.com/open-api).
// Its RegionId is the region of the Log Audit domain when the domain names one (the central
// region may differ from the function's), else Endpoints.Region.
func (s *Session) LogAudit() (*logaudit.Client, error) {
	return rpcClient(s, logAuditRegion(s.ep), s.ep.LogAudit, logaudit.NewClientWithAccessKey, logaudit.NewClientWithStsToken,
		func(c *logaudit.Client) *sdk.Client { return &c.Client })
}

func logAuditRegion(ep Endpoints) string {
	host, _, _ := strings.Cut(ep.LogAudit, "/")
	if r, ok := strings.CutSuffix(host, ".log.aliyuncs.com"); ok && regionRE.MatchString(r) {
		return r
	}
	return ep.Region
}

// SLS returns a log service client. Unlike the RPC clients it is safe for concurrent use.
func (s *Session) SLS() sls.ClientInterface {
	ci := sls.CreateNormalInterface(s.ep.SLS, s.creds.AccessKeyID, s.creds.AccessKeySecret, s.creds.SecurityToken)
	if c, ok := ci.(*sls.Client); ok {
		// Set every field the SDK would lazily default: it does so under a read lock, which races.
		c.RequestTimeOut = s.sh.slsHTTP.Timeout
		c.RetryTimeOut = s.sh.cfg.slsRetry
		c.HTTPClient = s.sh.slsHTTP
		c.UserAgent = sls.DefaultLogUserAgent + " " + UserAgent
		return c
	}
	ci.SetHTTPClient(s.sh.slsHTTP)
	ci.SetRetryTimeout(s.sh.cfg.slsRetry)
	return ci
}

// OSS returns an OSS client (v1 signatures). Path-style addressing is forced locally (an IP
// host gets it anyway), so buckets need no DNS.
func (s *Session) OSS() (*oss.Client, error) {
	opts := []oss.ClientOption{oss.HTTPClient(s.sh.ossHTTP)}
	if s.creds.SecurityToken != "" {
		opts = append(opts, oss.SecurityToken(s.creds.SecurityToken))
	}
	if s.ep.Local {
		opts = append(opts, oss.ForcePathStyle(true))
	}
	c, err := oss.New(s.ep.OSS, s.creds.AccessKeyID, s.creds.AccessKeySecret, opts...)
	if err != nil {
		return nil, fmt.Errorf("oss client for %s: %w", s.ep.OSS, err)
	}
	return c, nil
}

// ossTransport is the shared pool, except against localcloud's TLS listener, whose certificate is
// self-signed and made anew at each start: there (loopback only) the certificate is not verified.
func ossTransport(tr *http.Transport, ep Endpoints) http.RoundTripper {
	u, err := url.Parse(ep.OSS)
	if !ep.Local || err != nil || u.Scheme != "https" {
		return tr
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return tr
	}
	local := tr.Clone()
	local.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // loopback emulator with a throwaway certificate
	return local
}
