package logaudit

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/sls"
	"github.com/rs/zerolog"

	"github.com/auditwarden/auditwarden/shared/cloud"
)

// AppName is the Log Audit app of the legacy app API (DescribeApp AppName, AnalyzeAppLog AppType).
const AppName = "audit"

// DisplayName is what auditwarden names the app when it writes the configuration.
const DisplayName = "auditwarden"

// CodeAppNotExist is DescribeApp's answer when Log Audit was never configured in the account.
const CodeAppNotExist = "AppNotExist"

// Client reads and writes the Log Audit configuration of the central account (the session's
// account). Safe for concurrent use: every call builds its own SDK client, as the RPC SDK's
// clients are not. The document has no compare-and-swap: serialise writers (reconcile does,
// under a state lease).
type Client struct {
	s      *cloud.Session
	region string
	domain string
}

// New makes a Client for Log Audit's central region. Against the cloud the Domain is
// <region>.log.aliyuncs.com/open-api (or the session's Log Audit domain when it already names
// that region, e.g. an intranet endpoint); against localcloud it is localcloud's own.
func New(s *cloud.Session, region string) *Client {
	ep := s.Endpoints()
	domain := ep.LogAudit
	if !ep.Local && region != "" && !domainInRegion(ep.LogAudit, region) {
		domain = cloud.LogAuditDomain(region)
	}
	return &Client{s: s, region: region, domain: domain}
}

// domainInRegion: cn-shanghai.log.aliyuncs.com/open-api and cn-shanghai-intranet.log... are in cn-shanghai.
func domainInRegion(domain, region string) bool {
	host, _, _ := strings.Cut(domain, "/")
	return strings.HasPrefix(host, region+".") || strings.HasPrefix(host, region+"-")
}

// Region is the central region the client was made for.
func (c *Client) Region() string { return c.region }

// Domain is where the client sends its calls.
func (c *Client) Domain() string { return c.domain }

func (c *Client) sdk() (*sls.Client, error) {
	cl, err := c.s.LogAudit()
	if err != nil {
		return nil, fmt.Errorf("log audit: client: %w", err)
	}
	cl.Domain = c.domain
	return cl, nil
}

// Observe reads the configuration (DescribeApp AppName=audit). It reports false, without an
// error, when Log Audit was never configured in the account (AppNotExist).
func (c *Client) Observe(ctx context.Context) (Config, bool, error) {
	cl, err := c.sdk()
	if err != nil {
		return Config{}, false, err
	}
	req := sls.CreateDescribeAppRequest()
	req.AppName = AppName
	if c.region != "" {
		req.RegionId = c.region
	}
	var resp *sls.DescribeAppResponse
	err = c.s.Do(ctx, "logaudit:DescribeApp", func() error {
		var e error
		resp, e = cl.DescribeApp(req)
		return e
	})
	if err != nil {
		if cloud.Code(err) == CodeAppNotExist {
			return Config{}, false, nil
		}
		return Config{}, false, fmt.Errorf("log audit: DescribeApp %s: %w", AppName, err)
	}
	cfg, err := ParseConfig(resp.AppModel.Config)
	if err != nil {
		return Config{}, false, fmt.Errorf("log audit: DescribeApp %s: %w", AppName, err)
	}
	if cfg.AliUID == "" && resp.AppModel.Uid > 0 {
		cfg.AliUID = strconv.FormatInt(resp.AppModel.Uid, 10)
	}
	return cfg, true, nil
}

// Write replaces the whole configuration with cfg (AnalyzeAppLog AppType=audit, the full
// VariableMap). Unknown switches read by Observe are written back unchanged, so a
// read-modify-write never drops them.
func (c *Client) Write(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	vm, err := json.Marshal(VariableMap(cfg))
	if err != nil {
		return fmt.Errorf("log audit: encoding the VariableMap: %w", err)
	}
	cl, err := c.sdk()
	if err != nil {
		return err
	}
	req := sls.CreateAnalyzeAppLogRequest()
	req.AppType = AppName
	req.DisplayName = DisplayName
	req.VariableMap = string(vm)
	if c.region != "" {
		req.RegionId = c.region
	}
	var resp *sls.AnalyzeAppLogResponse
	err = c.s.Do(ctx, "logaudit:AnalyzeAppLog", func() error {
		var e error
		resp, e = cl.AnalyzeAppLog(req)
		return e
	})
	if err != nil {
		return fmt.Errorf("log audit: AnalyzeAppLog (account %s, mode %s): %w", cfg.AliUID, modeName(cfg), err)
	}
	// A 2xx is success to the SDK whatever the body says; a body that says otherwise is not.
	if s := strings.ToLower(resp.Success); s != "" && s != "true" {
		return fmt.Errorf("log audit: AnalyzeAppLog (account %s, mode %s) answered Success=%s: %s: %s",
			cfg.AliUID, modeName(cfg), resp.Success, resp.Code, resp.Message)
	}
	c.log().Info().Str("action", "logaudit.write").Str("account", cfg.AliUID).Str("region", cfg.Region).
		Str("mode", modeName(cfg)).Int("members", len(cfg.Members)).Str("requestId", resp.RequestId).
		Msg("wrote Log Audit configuration")
	return nil
}

func modeName(cfg Config) string {
	switch cfg.Mode {
	case ModeNone:
		return "none"
	case ModeResourceDirectory:
		return cfg.Mode + "/" + cfg.RDType
	}
	return cfg.Mode
}

func (c *Client) log() *zerolog.Logger {
	l := c.s.Logger()
	return &l
}
