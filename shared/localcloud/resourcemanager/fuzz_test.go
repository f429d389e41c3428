package resourcemanager_test

import (
	"errors"
	"math/rand"
	"net/url"
	"sort"
	"testing"
	"time"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	"github.com/auditwarden/auditwarden/shared/localcloud/resourcemanager"
)

// FuzzActions feeds arbitrary query strings to every action as the management account, a member
// and an outsider: no input may panic or produce anything but a client error.
func FuzzActions(f *testing.F) {
	svc := resourcemanager.Service()
	actions := make([]string, 0, len(svc.Actions))
	for name := range svc.Actions {
		actions = append(actions, name)
	}
	sort.Strings(actions)

	seeds := []string{
		"", "PageSize=100&PageNumber=2&IncludeTags=true", "PageSize=-1", "PageNumber=99999999999999999999",
		"Tag.1.Key=env&Tag.1.Value=prod&Tag.2.Value=x", "Tag.-1.Key=a&Tag.99999999999999999999.Key=b",
		"AccountId=1000000000000001", "AccountId=%00%FF", "DisplayName=a&AccountNamePrefix=-x-",
		"DisplayName=%E4%B8%AD%E6%96%87%E5%90%8D%E5%AD%97&Tag.1.Key=k", "FolderName=a&ParentFolderId=r-zzzz",
		"ChildId=1000000000000001", "ChildId=fd-", "HandshakeId=h-x", "TargetEntity=a@b&TargetType=Email",
		"TargetEntity=1000000000000002&TargetType=Account&Note=hi", "ServicePrincipal=actiontrail.aliyuncs.com&AccountId=1000000000000001",
		"ResourceType=Account&ResourceId.1=1000000000000001&Tag.1.Key=k&TagKey.1=k&All=maybe",
		"NewDisplayName=x&NewAccountType=CloudAccount", "Email=@&AccountId=1000000000000001", "QueryKeyword=%25",
	}
	for i, s := range seeds {
		f.Add(uint8(i), uint8(i%3), s)
	}
	f.Fuzz(func(t *testing.T, actionPick, callerPick uint8, query string) {
		params, err := url.ParseQuery(query)
		if err != nil {
			t.Skip()
		}
		w := core.NewWorld("cn-hangzhou", core.NewManualClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)))
		res, err := resourcemanager.Seed(w, resourcemanager.SeedOptions{Members: 4, Folders: 2, Invited: 1, Rand: rand.New(rand.NewSource(1))})
		if err != nil {
			t.Fatal(err)
		}
		w.Mu.Lock()
		outsider := w.AddAccountLocked("1000000000000002", "outsider", "CloudAccount").AccountID
		w.Mu.Unlock()
		callers := []string{res.ManagementAccountID, res.Members[0].AccountID, outsider}

		action := actions[int(actionPick)%len(actions)]
		c := &core.Call{
			World: w, Service: svc, Action: action, Version: svc.Version, Region: "cn-hangzhou", Method: "POST",
			RequestID: core.NewRequestID(), Params: map[string]string{},
			Caller: core.Principal{AccountID: callers[int(callerPick)%len(callers)], Type: core.PrincipalRoot},
		}
		for k, v := range params {
			c.Params[k] = v[0]
		}
		if svc.Actions[action].Write {
			c.Record = &core.Event{}
		}
		_, err = svc.Actions[action].Handler(c)
		if err == nil {
			return
		}
		var e *core.Error
		if !errors.As(err, &e) {
			t.Fatalf("%s returned %T %v, not an API error", action, err, err)
		}
		if e.Status < 400 || e.Status >= 500 || e.Code == "" {
			t.Fatalf("%s answered %d %q: %s", action, e.Status, e.Code, e.Message)
		}
	})
}
