// Package identity is localcloud's STS (2015-04-01) and RAM (2015-05-01): the credentials every
// other product checks, and the roles that members and services assume.
package identity

import (
	"regexp"
	"strings"
	"time"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

var sessionNameRE = regexp.MustCompile(`^[A-Za-z0-9.@_-]{2,64}$`)

// STS returns the Sts product.
func STS() *core.Service {
	return &core.Service{
		Product: "Sts", Version: "2015-04-01", EventSource: "sts.aliyuncs.com", ServiceName: "Sts",
		Actions: map[string]core.Action{
			// AssumeRole is a read in ActionTrail's terms but users audit it: record it as a write.
			"AssumeRole":        {Handler: assumeRole, Write: true},
			"GetCallerIdentity": {Handler: getCallerIdentity},
		},
	}
}

func assumeRole(c *core.Call) (any, error) {
	arn, err := c.Require("RoleArn")
	if err != nil {
		return nil, err
	}
	session, err := c.Require("RoleSessionName")
	if err != nil {
		return nil, err
	}
	if !sessionNameRE.MatchString(session) {
		return nil, core.Errorf(400, "InvalidParameter.RoleSessionName", "The parameter RoleSessionName is wrongly formed: 2 to 64 characters of [A-Za-z0-9.@_-].")
	}
	secs, err := c.Int("DurationSeconds", 3600, 900, 43200)
	if err != nil {
		return nil, core.Errorf(400, "InvalidParameter.DurationSeconds", "The parameter DurationSeconds must be from 900 to the role's MaxSessionDuration.")
	}
	c.World.Mu.Lock()
	cred, aerr := c.World.AssumeRoleLocked(c.Caller, "", arn, session, time.Duration(secs)*time.Second)
	c.World.Mu.Unlock()
	if aerr != nil {
		return nil, &core.Error{Status: aerr.Status, Code: aerr.Code, Message: aerr.Message}
	}
	if c.Record != nil {
		c.Record.ResourceType = "ACS::RAM::Role"
		c.Record.ResourceName = arn
	}
	account, _, _ := core.ParseRoleARN(arn)
	return map[string]any{
		"AssumedRoleUser": map[string]string{
			"Arn":           "acs:ram::" + account + ":assumed-role/" + cred.RoleName + "/" + session,
			"AssumedRoleId": cred.AssumedRoleID,
		},
		"Credentials": map[string]string{
			"AccessKeyId":     cred.AccessKeyID,
			"AccessKeySecret": cred.AccessKeySecret,
			"SecurityToken":   cred.SecurityToken,
			"Expiration":      core.APITimeSeconds(cred.Expiration),
		},
	}, nil
}

func getCallerIdentity(c *core.Call) (any, error) {
	p := c.Caller
	out := map[string]string{
		"AccountId":    p.AccountID,
		"Arn":          p.ARN(),
		"IdentityType": identityType(p),
		"PrincipalId":  p.PrincipalID,
		"UserId":       p.PrincipalID,
	}
	if p.Type == core.PrincipalAssumedRole {
		out["RoleId"] = strings.SplitN(p.PrincipalID, ":", 2)[0]
	}
	return out, nil
}

func identityType(p core.Principal) string {
	switch p.Type {
	case core.PrincipalRAMUser:
		return "RAMUser"
	case core.PrincipalAssumedRole:
		return "AssumedRoleUser"
	}
	return "Account"
}
