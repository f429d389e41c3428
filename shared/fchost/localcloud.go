package fchost

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"
	"github.com/rs/zerolog"

	"github.com/auditwarden/auditwarden/shared/cloud"
)

// LocalcloudCredentials gives functions STS credentials of their role from localcloud, as FC
// does from STS: it calls AssumeRole with the management account's key (localcloud's startup
// line). A role that does not exist yet is created first, trusting the management account and
// fc.aliyuncs.com, and the creation is logged. A role ARN naming another account than
// localcloud's management account is mapped to the same role name in the management account
// (an s.yaml written for a real account then runs unchanged), and that is logged too.
type LocalcloudCredentials struct {
	info cloud.LocalcloudInfo
	rpc  string // host:port of STS and RAM
	log  zerolog.Logger

	mu     sync.Mutex
	warned map[string]bool
}

// STS session duration asked for; localcloud roles default to MaxSessionDuration 3600.
const sessionSeconds = 3600

// NewLocalcloudCredentials uses the endpoints and management key of a localcloud startup line.
func NewLocalcloudCredentials(info cloud.LocalcloudInfo, log zerolog.Logger) (*LocalcloudCredentials, error) {
	ep, err := info.ToEndpoints()
	if err != nil {
		return nil, err
	}
	if info.ManagementAccountID == "" || info.AccessKeyID == "" || info.AccessKeySecret == "" {
		return nil, errors.New("localcloud info: managementAccountId, accessKeyId and accessKeySecret are required")
	}
	return &LocalcloudCredentials{info: info, rpc: ep.STS, log: log, warned: map[string]bool{}}, nil
}

// Get is an Options.Credentials function. fchost caches its results until near expiry.
func (l *LocalcloudCredentials) Get(ctx context.Context, role string) (ak, sk, token string, expires time.Time, err error) {
	m := roleARNRE.FindStringSubmatch(role)
	if m == nil {
		return "", "", "", time.Time{}, fmt.Errorf("role %q is not a role ARN acs:ram::<account>:role/<name>", role)
	}
	account, name := m[1], m[2]
	mgmt := l.info.ManagementAccountID
	arn := "acs:ram::" + mgmt + ":role/" + strings.ToLower(name)
	if account != mgmt {
		l.once("remap:"+role, func() {
			l.log.Warn().Str("role", role).Str("using", arn).Msg("the role's account is not localcloud's management account; using the role of that name there")
		})
	}
	if err := ctx.Err(); err != nil {
		return "", "", "", time.Time{}, err
	}
	resp, err := l.assume(arn)
	if code := errorCode(err); code == "EntityNotExist.Role" {
		if err := l.createRole(name, mgmt); err != nil {
			return "", "", "", time.Time{}, err
		}
		resp, err = l.assume(arn)
	}
	if err != nil {
		if code := errorCode(err); code == "NoPermission" {
			return "", "", "", time.Time{}, fmt.Errorf("AssumeRole %s: the role does not trust the management account %s (%w)", arn, mgmt, err)
		}
		return "", "", "", time.Time{}, fmt.Errorf("AssumeRole %s: %w", arn, err)
	}
	exp, err := time.Parse(time.RFC3339, resp.Credentials.Expiration)
	if err != nil {
		return "", "", "", time.Time{}, fmt.Errorf("AssumeRole %s: Credentials.Expiration %q is not RFC 3339", arn, resp.Credentials.Expiration)
	}
	c := resp.Credentials
	if c.AccessKeyId == "" || c.AccessKeySecret == "" || c.SecurityToken == "" {
		return "", "", "", time.Time{}, fmt.Errorf("AssumeRole %s: incomplete credentials", arn)
	}
	return c.AccessKeyId, c.AccessKeySecret, c.SecurityToken, exp, nil
}

func (l *LocalcloudCredentials) once(key string, fn func()) {
	l.mu.Lock()
	first := !l.warned[key]
	l.warned[key] = true
	l.mu.Unlock()
	if first {
		fn()
	}
}

func (l *LocalcloudCredentials) assume(arn string) (*sts.AssumeRoleResponse, error) {
	c, err := sts.NewClientWithAccessKey(l.info.Region, l.info.AccessKeyID, l.info.AccessKeySecret)
	if err != nil {
		return nil, err
	}
	l.point(&c.Client)
	req := sts.CreateAssumeRoleRequest()
	req.RoleArn = arn
	req.RoleSessionName = "fchost"
	req.DurationSeconds = requests.NewInteger(sessionSeconds)
	return c.AssumeRole(req)
}

func (l *LocalcloudCredentials) createRole(name, mgmt string) error {
	c, err := ram.NewClientWithAccessKey(l.info.Region, l.info.AccessKeyID, l.info.AccessKeySecret)
	if err != nil {
		return err
	}
	l.point(&c.Client)
	req := ram.CreateCreateRoleRequest()
	req.RoleName = name
	req.Description = "created by fchost for a function role of s.yaml"
	req.AssumeRolePolicyDocument = `{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"RAM":["acs:ram::` +
		mgmt + `:root"],"Service":["fc.aliyuncs.com"]}}],"Version":"1"}`
	_, err = c.CreateRole(req)
	if code := errorCode(err); code == "EntityAlreadyExists.Role" {
		return nil // created concurrently
	}
	if err != nil {
		return fmt.Errorf("CreateRole %s in localcloud: %w", name, err)
	}
	l.log.Info().Str("role", name).Str("account", mgmt).Msg("created the function role in localcloud (it did not exist)")
	return nil
}

// point aims an SDK client at localcloud over plain HTTP.
func (l *LocalcloudCredentials) point(c *sdk.Client) {
	c.Domain = l.rpc
	c.GetConfig().Scheme = "HTTP"
	c.SetConnectTimeout(5 * time.Second)
	c.SetReadTimeout(10 * time.Second)
}

func errorCode(err error) string {
	var se *sdkerrors.ServerError
	if errors.As(err, &se) {
		return se.ErrorCode()
	}
	return ""
}
