package cloud

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
)

// Environment variables read by EndpointsFromEnv.
const (
	// EnvLocalcloud holds localcloud's startup line (LocalcloudInfo as JSON): when set, every
	// endpoint points at the emulator.
	EnvLocalcloud = "AUDITWARDEN_LOCALCLOUD"
	// EnvRegion names the region for real endpoints; FC_REGION (set by Function Compute) and
	// ALIBABA_CLOUD_REGION_ID are read after it.
	EnvRegion = "AUDITWARDEN_REGION"
)

// Endpoints says where each product is reached. RPC products (Resource Manager, ActionTrail,
// STS, RAM, Log Audit) take a Domain: host[:port], with a path for Log Audit; SLS takes the
// log SDK's endpoint and, locally, an address to dial instead; OSS takes a URL.
type Endpoints struct {
	Region string

	ResourceManager string // resourcemanager.aliyuncs.com
	ActionTrail     string // actiontrail.<region>.aliyuncs.com
	STS             string // sts.aliyuncs.com
	RAM             string // ram.aliyuncs.com
	// LogAudit is the Log Audit (SLS 2019-10-23 RPC) Domain, path included:
	// <region>.log.aliyuncs.com/open-api. Log Audit's central region must be cn-shanghai or
	// ap-southeast-1: use LogAuditDomain to point it elsewhere than Region.
	LogAudit string
	// Scheme is "https" or "http" for the RPC products above.
	Scheme string

	// SLS is the log SDK endpoint, e.g. https://cn-hangzhou.log.aliyuncs.com. The SDK puts the
	// project in the host name, so locally it stays <region>.log.aliyuncs.com and SLSDial names
	// the emulator's host:port, which the HTTP client dials whatever the host.
	SLS     string
	SLSDial string

	// OSS is the OSS endpoint URL; an IP host makes the SDK use path-style addressing.
	OSS string

	// Local marks localcloud endpoints.
	Local bool
}

var regionRE = regexp.MustCompile(`^[a-z]{2,}(-[a-z0-9]+)+$`)

// LogAuditDomain is Log Audit's RPC Domain in a region.
func LogAuditDomain(region string) string { return region + ".log.aliyuncs.com/open-api" }

// EndpointsForRegion is the real public endpoints of a region, over HTTPS.
func EndpointsForRegion(region string) (Endpoints, error) {
	if !regionRE.MatchString(region) {
		return Endpoints{}, fmt.Errorf("endpoints: region %q is not a region id such as cn-hangzhou", region)
	}
	return Endpoints{
		Region:          region,
		ResourceManager: "resourcemanager.aliyuncs.com",
		ActionTrail:     "actiontrail." + region + ".aliyuncs.com",
		// The central STS endpoint answers for every region; sts.<region>.aliyuncs.com also
		// works and can be set by hand to save a hop.
		STS:      "sts.aliyuncs.com",
		RAM:      "ram.aliyuncs.com",
		LogAudit: LogAuditDomain(region),
		Scheme:   "https",
		SLS:      "https://" + region + ".log.aliyuncs.com",
		OSS:      "https://oss-" + region + ".aliyuncs.com",
	}, nil
}

// Validate names the first field that is wrong and why.
func (e Endpoints) Validate() error {
	if !regionRE.MatchString(e.Region) {
		return fmt.Errorf("endpoints: Region %q is not a region id such as cn-hangzhou", e.Region)
	}
	for _, f := range []struct{ name, v string }{
		{"ResourceManager", e.ResourceManager}, {"ActionTrail", e.ActionTrail},
		{"STS", e.STS}, {"RAM", e.RAM}, {"LogAudit", e.LogAudit},
	} {
		if f.v == "" {
			return fmt.Errorf("endpoints: %s is empty", f.name)
		}
		if strings.Contains(f.v, "://") {
			return fmt.Errorf("endpoints: %s %q must be host[:port] without a scheme (the scheme is Endpoints.Scheme)", f.name, f.v)
		}
	}
	if e.Scheme != "https" && e.Scheme != "http" {
		return fmt.Errorf("endpoints: Scheme %q must be https or http", e.Scheme)
	}
	if e.SLS == "" {
		return errors.New("endpoints: SLS is empty")
	}
	if e.SLSDial != "" {
		if _, _, err := net.SplitHostPort(e.SLSDial); err != nil {
			return fmt.Errorf("endpoints: SLSDial %q must be host:port: %v", e.SLSDial, err)
		}
	}
	u, err := url.Parse(e.OSS)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("endpoints: OSS %q must be an http(s) URL such as https://oss-cn-hangzhou.aliyuncs.com", e.OSS)
	}
	return nil
}

// LocalcloudInfo is localcloud's startup line: where it listens and the management account's
// AccessKey. localcloud prints it as one JSON line; AUDITWARDEN_LOCALCLOUD carries the same JSON.
type LocalcloudInfo struct {
	Region              string              `json:"region"`
	ManagementAccountID string              `json:"managementAccountId"`
	AccessKeyID         string              `json:"accessKeyId"`
	AccessKeySecret     string              `json:"accessKeySecret"`
	Endpoints           LocalcloudEndpoints `json:"endpoints"`
}

// LocalcloudEndpoints are localcloud's listeners.
type LocalcloudEndpoints struct {
	RPC      string `json:"rpc"`      // 127.0.0.1:P: Resource Manager, ActionTrail, STS, RAM (one port, by Version)
	LogAudit string `json:"logaudit"` // 127.0.0.1:P/open-api
	SLS      string `json:"sls"`      // 127.0.0.1:P2, dialled for every project host
	OSS      string `json:"oss"`      // http://127.0.0.1:P3
	// OSSTLS is the same OSS over TLS (a self-signed certificate). Sessions prefer it: a bucket
	// policy denying insecure transport (CIS 5.4) refuses plain-HTTP calls, as in the cloud.
	OSSTLS  string `json:"ossTls,omitempty"`
	Control string `json:"control"` // http://127.0.0.1:P4: faults, stats, clock
}

// ParseLocalcloudInfo decodes and checks localcloud's startup line.
func ParseLocalcloudInfo(data []byte) (LocalcloudInfo, error) {
	var info LocalcloudInfo
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&info); err != nil {
		return LocalcloudInfo{}, fmt.Errorf("localcloud info: not a JSON object: %v", err)
	}
	if dec.More() {
		return LocalcloudInfo{}, errors.New("localcloud info: trailing data after the JSON object")
	}
	if _, err := info.ToEndpoints(); err != nil {
		return LocalcloudInfo{}, err
	}
	return info, nil
}

// Credentials is the management account's AccessKey localcloud printed.
func (i LocalcloudInfo) Credentials() Credentials {
	return Credentials{AccessKeyID: i.AccessKeyID, AccessKeySecret: i.AccessKeySecret}
}

// Session acts in localcloud's management account with the key it printed; opts come after that
// account, so a caller may still name another.
func (i LocalcloudInfo) Session(opts ...Option) (*Session, error) {
	ep, err := i.ToEndpoints()
	if err != nil {
		return nil, err
	}
	return NewSession(i.Credentials(), ep, append([]Option{WithAccountID(i.ManagementAccountID)}, opts...)...)
}

// ToEndpoints points every product at localcloud, over HTTP.
func (i LocalcloudInfo) ToEndpoints() (Endpoints, error) {
	if !regionRE.MatchString(i.Region) {
		return Endpoints{}, fmt.Errorf("localcloud info: region %q is not a region id such as cn-hangzhou", i.Region)
	}
	rpc, err := hostPort("endpoints.rpc", i.Endpoints.RPC)
	if err != nil {
		return Endpoints{}, err
	}
	la := strings.TrimPrefix(i.Endpoints.LogAudit, "http://")
	if la == "" {
		return Endpoints{}, errors.New("localcloud info: endpoints.logaudit is empty")
	}
	if h, _, _ := strings.Cut(la, "/"); h != "" {
		if _, err := hostPort("endpoints.logaudit", h); err != nil {
			return Endpoints{}, err
		}
	}
	sls, err := hostPort("endpoints.sls", i.Endpoints.SLS)
	if err != nil {
		return Endpoints{}, err
	}
	u, err := url.Parse(i.Endpoints.OSS)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return Endpoints{}, fmt.Errorf("localcloud info: endpoints.oss %q must be a URL such as http://127.0.0.1:9000", i.Endpoints.OSS)
	}
	ossURL := i.Endpoints.OSS
	if i.Endpoints.OSSTLS != "" {
		t, err := url.Parse(i.Endpoints.OSSTLS)
		if err != nil || t.Scheme != "https" || t.Host == "" {
			return Endpoints{}, fmt.Errorf("localcloud info: endpoints.ossTls %q must be a URL such as https://127.0.0.1:9443", i.Endpoints.OSSTLS)
		}
		ossURL = i.Endpoints.OSSTLS
	}
	return Endpoints{
		Region:          i.Region,
		ResourceManager: rpc,
		ActionTrail:     rpc,
		STS:             rpc,
		RAM:             rpc,
		LogAudit:        la,
		Scheme:          "http",
		SLS:             i.Region + ".log.aliyuncs.com",
		SLSDial:         sls,
		OSS:             strings.TrimSuffix(ossURL, "/"),
		Local:           true,
	}, nil
}

// hostPort accepts host:port, optionally behind http://.
func hostPort(field, v string) (string, error) {
	v = strings.TrimSuffix(strings.TrimPrefix(v, "http://"), "/")
	if v == "" {
		return "", fmt.Errorf("localcloud info: %s is empty", field)
	}
	if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
		return "", fmt.Errorf("localcloud info: %s %q must be host:port such as 127.0.0.1:8080", field, v)
	}
	return v, nil
}

// EndpointsFromEnv returns localcloud's endpoints when AUDITWARDEN_LOCALCLOUD is set, else the
// real endpoints of the region named by AUDITWARDEN_REGION, FC_REGION or ALIBABA_CLOUD_REGION_ID.
func EndpointsFromEnv() (Endpoints, error) {
	ep, _, err := endpointsFromEnv()
	return ep, err
}

// endpointsFromEnv also returns the localcloud info, when there is one.
func endpointsFromEnv() (Endpoints, *LocalcloudInfo, error) {
	if raw := strings.TrimSpace(os.Getenv(EnvLocalcloud)); raw != "" {
		info, err := ParseLocalcloudInfo([]byte(raw))
		if err != nil {
			return Endpoints{}, nil, fmt.Errorf("%s: %w", EnvLocalcloud, err)
		}
		ep, err := info.ToEndpoints()
		return ep, &info, err
	}
	for _, name := range []string{EnvRegion, "FC_REGION", "ALIBABA_CLOUD_REGION_ID"} {
		if r := strings.TrimSpace(os.Getenv(name)); r != "" {
			ep, err := EndpointsForRegion(r)
			if err != nil {
				return Endpoints{}, nil, fmt.Errorf("%s: %w", name, err)
			}
			return ep, nil, nil
		}
	}
	return Endpoints{}, nil, fmt.Errorf("endpoints: set %s (localcloud) or %s (region id)", EnvLocalcloud, EnvRegion)
}
