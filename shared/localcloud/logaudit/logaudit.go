// Package logaudit is localcloud's Log Audit Service as the legacy app API shows it (RPC product
// Sls, Version 2019-10-23, served on <region>.log.aliyuncs.com/open-api; the API terraform's
// alicloud_log_audit uses): AnalyzeAppLog writes the one configuration document of a central
// account, DescribeApp reads it back, DeleteApp removes it. Members computes who a configuration
// actually collects, for the rest of localcloud and for tests.
//
// Error codes: the real ones are documented only for DescribeApp (AppNotExist, which terraform
// checks). The others follow SLS's own conventions and are UNVERIFIED: 400 ParameterInvalid for bad
// input (always naming the parameter or VariableMap key), 403 Unauthorized when the caller may not
// use resource directory mode, 409 OperationDenied when a mode rule of the console forbids the write.
package logaudit

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	"github.com/auditwarden/auditwarden/shared/localcloud/identity"
)

// AppName is the only app of this API that localcloud serves.
const AppName = "audit"

// Error codes (see the package comment for which are verified).
const (
	CodeParameterInvalid = "ParameterInvalid"
	CodeUnauthorized     = "Unauthorized"
	CodeOperationDenied  = "OperationDenied"
	CodeAppNotExist      = "AppNotExist"
	CodeInternal         = "InternalServerError"
)

// DefaultCentralRegions are the regions where the documentation ("Log Audit Service: usage notes",
// centralized storage) lets a central project live.
var DefaultCentralRegions = []string{
	"cn-qingdao", "cn-beijing", "cn-zhangjiakou", "cn-huhehaote", "cn-wulanchabu", "cn-hangzhou",
	"cn-shanghai", "cn-shenzhen", "cn-hongkong",
	"ap-southeast-1", "ap-northeast-1", "eu-central-1", "ap-southeast-5", "ap-southeast-3",
}

// Options configure the service.
type Options struct {
	// CentralRegions replaces DefaultCentralRegions (e.g. []string{"cn-shanghai","ap-southeast-1"}
	// to model an organization whose compliance rules allow only those).
	CentralRegions []string
	// AcceptUnauthorizedMembers skips the check that custom-authentication members hold the RAM role
	// Log Audit needs. The real API appears to accept such members and to report the failure later,
	// on the console's collection status (terraform's acceptance test configures made-up uids);
	// localcloud refuses them by default so a missing authorization is caught at configuration time.
	AcceptUnauthorizedMembers bool
}

// Service returns the Sls 2019-10-23 product (Log Audit's app API).
func Service(opts Options) *core.Service {
	regions := opts.CentralRegions
	if len(regions) == 0 {
		regions = DefaultCentralRegions
	}
	h := &handlers{opts: opts, regions: map[string]bool{}}
	for _, r := range regions {
		h.regions[r] = true
	}
	h.regionList = append([]string(nil), regions...)
	sort.Strings(h.regionList)
	return &core.Service{
		Product: "Sls", Version: "2019-10-23", EventSource: "log.aliyuncs.com", ServiceName: "Sls",
		Actions: map[string]core.Action{
			"AnalyzeAppLog": {Handler: h.analyzeAppLog, Write: true},
			"DescribeApp":   {Handler: h.describeApp},
			"DeleteApp":     {Handler: h.deleteApp, Write: true},
		},
	}
}

type handlers struct {
	opts       Options
	regions    map[string]bool
	regionList []string
}

// Response shapes of github.com/aliyun/alibaba-cloud-sdk-go/services/sls (RequestId is added by core).
// Success is a string in the SDK structs (the API metadata types it so); Code and Message on success
// are UNVERIFIED.
type result struct {
	Success string `json:"Success"`
	Code    string `json:"Code"`
	Message string `json:"Message"`
}

var success = result{Success: "true", Code: "200", Message: "success"}

type describeAppResponse struct {
	result
	AppModel appModel `json:"AppModel"`
}

// appModel matches sls.AppModel: Uid is an int64 there, so it is a JSON number here.
type appModel struct {
	AppName     string `json:"AppName"`
	DisplayName string `json:"DisplayName"`
	Uid         any    `json:"Uid"`
	Config      string `json:"Config"`
}

func invalid(format string, args ...any) *core.Error {
	return core.Errorf(400, CodeParameterInvalid, format, args...)
}

func (h *handlers) analyzeAppLog(c *core.Call) (any, error) {
	appType := c.Get("AppType")
	if appType == "" {
		return nil, invalid("The parameter AppType is required and must be %q.", AppName)
	}
	if appType != AppName {
		return nil, invalid("The parameter AppType must be %q, got %q.", AppName, appType)
	}
	display := c.Get("DisplayName")
	if display == "" {
		return nil, invalid("The parameter DisplayName is required.")
	}
	raw := c.Get("VariableMap")
	if raw == "" {
		return nil, invalid("The parameter VariableMap is required: a JSON object of strings.")
	}
	vars, err := ParseVariableMap(raw)
	if err != nil {
		return nil, invalid("%v", err)
	}
	central := c.Caller.AccountID
	if err := h.checkIdentity(central, vars); err != nil {
		return nil, err
	}
	w := c.World
	s := storeOf(w)
	// Check the rules before touching anything, create the project and the service-linked role
	// outside the locks (the SLS emulator takes the world lock itself), then check again and commit
	// atomically: the world may have moved in between.
	if err := h.check(w, s, central, vars); err != nil {
		return nil, err
	}
	if w.SLS != nil {
		if err := w.SLS.CreateServiceProject(central, vars.Project, vars.Region); err != nil {
			return nil, core.Errorf(500, CodeInternal, "Creating the central project %s failed: %v", vars.Project, err)
		}
	}
	if _, err := identity.EnsureServiceLinkedRole(w, central, ServicePrincipal, ServiceLinkedRole); err != nil {
		return nil, core.Errorf(500, CodeInternal, "Creating the service-linked role %s failed: %v", ServiceLinkedRole, err)
	}
	w.Mu.RLock()
	defer w.Mu.RUnlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := h.checkLocked(w, s, central, vars); err != nil {
		return nil, err
	}
	now := w.Now()
	cfg := &AppConfig{
		Account: central, AppName: AppName, DisplayName: display, VariableMap: raw, Vars: vars.Values,
		Region: vars.Region, Project: vars.Project, Mode: vars.Mode, Accounts: vars.Accounts,
		CreateTime: now, UpdateTime: now,
	}
	if prev, ok := s.apps[central]; ok {
		cfg.CreateTime = prev.CreateTime
	}
	s.versions[central]++
	cfg.Version = s.versions[central]
	s.apps[central] = cfg
	return success, nil
}

// checkIdentity applies the rules that need only the caller: central region, aliuid, project, logstore.
func (h *handlers) checkIdentity(central string, v *Variables) *core.Error {
	if !h.regions[v.Region] {
		return invalid("VariableMap key %q: the central project cannot be in %q; Log Audit Service stores centrally only in %s.",
			KeyRegion, v.Region, strings.Join(h.regionList, ", "))
	}
	if v.AliUID != central {
		return invalid("VariableMap key %q: must be the calling account %s, got %s.", KeyAliUID, central, v.AliUID)
	}
	if want := CentralProject(v.AliUID, v.Region); v.Project != want {
		return invalid("VariableMap key %q: must be %q (slsaudit-center-<aliuid>-<region>), got %q.", KeyProject, want, v.Project)
	}
	if v.Logstore != CentralLogstore {
		return invalid("VariableMap key %q: must be %q, got %q.", KeyLogstore, CentralLogstore, v.Logstore)
	}
	return nil
}

func (h *handlers) check(w *core.World, s *store, central string, v *Variables) error {
	w.Mu.RLock()
	defer w.Mu.RUnlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	return h.checkLocked(w, s, central, v)
}

// checkLocked applies the console's mode rules and the membership checks. Caller holds w.Mu and s.mu.
func (h *handlers) checkLocked(w *core.World, s *store, central string, v *Variables) error {
	prev := s.apps[central]
	switch {
	case IsResourceDirectory(v.Mode):
		if !mayUseDirectoryLocked(w, central) {
			return core.Errorf(403, CodeUnauthorized,
				"Account %s may not use resource directory mode: only the management account of the resource directory or the delegated administrator of %s can.", central, ServicePrincipal)
		}
		// One resource directory configuration per directory: a new delegated administrator must wait
		// until the previous one has cleared its own (the seed's rule for changing the administrator).
		for acct, other := range s.apps {
			if acct != central && other.hasRDMembers() {
				return core.Errorf(409, CodeOperationDenied,
					"Account %s still collects the resource directory (mode %s). Remove that multi-account configuration first (set resource_directory type custom with no accounts) before configuring resource directory mode from account %s.",
					acct, other.Mode, central)
			}
		}
		if v.Mode == ModeRDCustom {
			var missing []string
			for _, uid := range v.Accounts {
				if !inDirectoryLocked(w, uid) {
					missing = append(missing, uid)
				}
			}
			if len(missing) > 0 {
				return invalid("VariableMap key %q: account %s is not a member of the resource directory.",
					KeyResourceDirectory, strings.Join(missing, ", "))
			}
		}
		// Resource directory mode overwrites a custom authentication configuration: nothing to check.
	case v.Mode == ModeCustomAuth:
		if prev != nil && prev.hasRDMembers() {
			return core.Errorf(409, CodeOperationDenied,
				"Account %s is configured in resource directory mode (%s). Clear that configuration first (set resource_directory type custom with no accounts, or send neither resource_directory nor multi_account) before switching to custom authentication mode.",
				central, prev.Mode)
		}
		if h.opts.AcceptUnauthorizedMembers {
			return nil
		}
		var problems []string
		for _, uid := range v.Accounts {
			if uid == central {
				continue // the central account is authorized by its service-linked role
			}
			if p := memberAuthorizedLocked(w, central, uid); p != "" {
				problems = append(problems, "account "+uid+" "+p)
			}
		}
		if len(problems) > 0 {
			return invalid("VariableMap key %q: Log Audit Service is not authorized in %s. Authorize with an AccessKey pair or create the role by hand (trusting %s, with %s and %s attached).",
				KeyMultiAccount, strings.Join(problems, "; "), MemberTrustService(central), MemberPolicy, MemberReadOnlyPolicy)
		}
	}
	return nil
}

func (h *handlers) requireApp(c *core.Call) *core.Error {
	name := c.Get("AppName")
	if name == "" {
		return invalid("The parameter AppName is required.")
	}
	if name != AppName {
		return core.Errorf(404, CodeAppNotExist, "The app %s does not exist.", name)
	}
	return nil
}

func (h *handlers) describeApp(c *core.Call) (any, error) {
	if err := h.requireApp(c); err != nil {
		return nil, err
	}
	cfg, found := Config(c.World, c.Caller.AccountID)
	if !found {
		return nil, core.Errorf(404, CodeAppNotExist, "The app %s does not exist in account %s.", AppName, c.Caller.AccountID)
	}
	var uid any = cfg.Account
	if n, err := strconv.ParseInt(cfg.Account, 10, 64); err == nil {
		uid = n
	}
	return describeAppResponse{
		result: success,
		AppModel: appModel{
			AppName: cfg.AppName, DisplayName: cfg.DisplayName, Uid: uid,
			// The VariableMap is embedded as sent (it was checked to be one JSON object).
			Config: fmt.Sprintf(`{"initParam":%s}`, cfg.VariableMap),
		},
	}, nil
}

// deleteApp removes the configuration (a clear: afterwards any mode may be configured). The
// central project and its logs stay, as they do when the central region changes.
func (h *handlers) deleteApp(c *core.Call) (any, error) {
	if err := h.requireApp(c); err != nil {
		return nil, err
	}
	s := storeOf(c.World)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, found := s.apps[c.Caller.AccountID]; !found {
		return nil, core.Errorf(404, CodeAppNotExist, "The app %s does not exist in account %s.", AppName, c.Caller.AccountID)
	}
	delete(s.apps, c.Caller.AccountID)
	s.versions[c.Caller.AccountID]++
	return success, nil
}
