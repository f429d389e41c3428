package fcevent_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/auditwarden/auditwarden/shared/fcevent"
)

// rmEvent is a Resource Manager record of name with the given parameters and response.
func rmEvent(name string, params, resp any) map[string]any {
	env := envelope()
	d := data(env)
	d["eventName"] = name
	d["requestParameters"] = params
	if resp == nil {
		delete(d, "responseElements")
	} else {
		d["responseElements"] = resp
	}
	return env
}

func acct(id any) map[string]any { return map[string]any{"Account": map[string]any{"AccountId": id}} }

func handshake(entity, typ string) map[string]any {
	return map[string]any{"Handshake": map[string]any{"HandshakeId": "h-1", "TargetEntity": entity, "TargetType": typ}}
}

// accepted is an AcceptHandshake record as the invited account leaves it.
func accepted(member string, resp any) map[string]any {
	env := rmEvent("AcceptHandshake", map[string]any{"HandshakeId": "h-1"}, resp)
	d := data(env)
	d["recipientAccountId"] = member
	d["userIdentity"].(map[string]any)["accountId"] = member
	return env
}

func with(env map[string]any, f func(env, d map[string]any)) map[string]any {
	f(env, data(env))
	return env
}

func TestMembershipIntent(t *testing.T) {
	num := func(s string) json.Number { return json.Number(s) }
	tests := []struct {
		name    string
		env     map[string]any
		kind    fcevent.Kind
		account string
		ids     []string
		reason  string // substring of Reason
	}{
		{"CreateResourceAccount", rmEvent("CreateResourceAccount", map[string]any{"DisplayName": "dev"}, acct(dev)), fcevent.Enrol, dev, nil, "created"},
		{"CreateResourceAccount with a number id", rmEvent("CreateResourceAccount", map[string]any{}, acct(num("9007199254740993"))), fcevent.Enrol, "9007199254740993", nil, ""},
		{"CreateResourceAccount with lower-case accountId", rmEvent("CreateResourceAccount", map[string]any{}, map[string]any{"Account": map[string]any{"accountId": dev}}), fcevent.Enrol, dev, nil, ""},
		{"CreateResourceAccount without response: resourceName", with(rmEvent("CreateResourceAccount", map[string]any{}, nil), func(_, d map[string]any) {
			d["resourceType"], d["resourceName"] = "ACS::ResourceManager::Account", dev
		}), fcevent.Enrol, dev, nil, ""},
		{"CreateResourceAccount with response as a JSON string", rmEvent("CreateResourceAccount", map[string]any{}, `{"Account":{"AccountId":"`+dev+`"}}`), fcevent.Enrol, dev, nil, ""},
		{"CreateCloudAccount", rmEvent("CreateCloudAccount", map[string]any{"Email": "a@example.com"}, acct(cloud)), fcevent.Enrol, cloud, nil, "cloud account"},
		{"PromoteResourceAccount", rmEvent("PromoteResourceAccount", map[string]any{"AccountId": dev, "Email": "a@example.com"}, acct(dev)), fcevent.Enrol, dev, nil, "promoted"},
		{"RemoveCloudAccount", rmEvent("RemoveCloudAccount", map[string]any{"AccountId": guest}, map[string]any{}), fcevent.Offboard, guest, nil, "removed"},
		{"RemoveCloudAccount with a number id", rmEvent("RemoveCloudAccount", map[string]any{"AccountId": num("5234567890123003")}, nil), fcevent.Offboard, guest, nil, ""},
		{"DeleteAccount with lower-case key", rmEvent("DeleteAccount", map[string]any{"accountId": scratch}, map[string]any{"DeletionType": "0"}), fcevent.Offboard, scratch, nil, "deleted"},
		{"DeleteAccount with parameters as a JSON string", rmEvent("DeleteAccount", `{"AccountId":5234567890123004}`, nil), fcevent.Offboard, scratch, nil, ""},
		{"DeleteAccount without parameters: response", rmEvent("DeleteAccount", nil, acct(scratch)), fcevent.Offboard, scratch, nil, ""},
		{"MoveAccount", rmEvent("MoveAccount", map[string]any{"AccountId": dev, "DestinationFolderId": "fd-1"}, map[string]any{}), fcevent.Reevaluate, dev, nil, "folder"},
		{"UpdateAccount", rmEvent("UpdateAccount", map[string]any{"AccountId": dev, "NewDisplayName": "x"}, acct(dev)), fcevent.Reevaluate, dev, nil, "name"},
		{"AcceptHandshake by account id", accepted(guest, handshake(guest, "Account")), fcevent.Enrol, guest, nil, "accepted"},
		{"AcceptHandshake by email", accepted(guest, handshake("guest@example.com", "Email")), fcevent.Enrol, guest, nil, ""},
		{"AcceptHandshake without response", accepted(guest, nil), fcevent.Enrol, guest, nil, ""},
		{"AcceptHandshake with only the target entity", with(rmEvent("AcceptHandshake", map[string]any{}, handshake(guest, "")), func(_, d map[string]any) {
			delete(d, "userIdentity")
			delete(d, "recipientAccountId")
		}), fcevent.Enrol, guest, nil, ""},
		{"TagResources of accounts, in ResourceId.N order", rmEvent("TagResources", map[string]any{
			"ResourceType": "Account", "ResourceId.10": scratch, "ResourceId.2": guest, "ResourceId.1": dev, "Tag.1.Key": "k",
		}, map[string]any{}), fcevent.Reevaluate, dev, []string{dev, guest, scratch}, "tags"},
		{"UntagResources with a ResourceId list and duplicates", rmEvent("UntagResources", map[string]any{
			"ResourceType": "Account", "ResourceId": []any{dev, num("5234567890123003"), dev},
		}, nil), fcevent.Reevaluate, dev, []string{dev, guest}, ""},
		{"TagResources comma-joined", rmEvent("TagResources", map[string]any{"ResourceType": "account", "ResourceId": dev + "," + guest}, nil), fcevent.Reevaluate, dev, []string{dev, guest}, ""},

		{"failed call", with(rmEvent("MoveAccount", map[string]any{"AccountId": dev}, nil), func(_, d map[string]any) {
			d["errorCode"], d["errorMessage"] = "EntityNotExists.Folder", "no folder"
		}), fcevent.Ignore, "", nil, "EntityNotExists.Folder"},
		{"failed create has no id and still is not an error", with(rmEvent("CreateResourceAccount", map[string]any{}, nil), func(_, d map[string]any) {
			d["errorCode"] = "InvalidParameter.Account.DisplayName.AlreadyUsed"
		}), fcevent.Ignore, "", nil, "failed"},
		{"unrelated ECS event", with(rmEvent("CreateInstance", map[string]any{"InstanceType": "ecs.g7.large"}, nil), func(env, d map[string]any) {
			env["type"], d["eventSource"], d["serviceName"] = "ecs:ActionTrail:ApiCall", "ecs.aliyuncs.com", "Ecs"
		}), fcevent.Ignore, "", nil, "not a membership change"},
		{"RDS DeleteAccount is not a member deletion", with(rmEvent("DeleteAccount", map[string]any{"DBInstanceId": "rm-1", "AccountName": "app"}, nil), func(env, d map[string]any) {
			env["type"], d["eventSource"], d["serviceName"] = "rds:ActionTrail:ApiCall", "rds.aliyuncs.com", "Rds"
		}), fcevent.Ignore, "", nil, "rds.aliyuncs.com"},
		{"ECS TagResources is not a retag", with(rmEvent("TagResources", map[string]any{"ResourceType": "instance", "ResourceId.1": "i-1"}, nil), func(env, d map[string]any) {
			env["type"], d["eventSource"], d["serviceName"] = "ecs:ActionTrail:ApiCall", "ecs.aliyuncs.com", "Ecs"
		}), fcevent.Ignore, "", nil, "not Resource Manager"},
		{"Resource Manager TagResources of folders", rmEvent("TagResources", map[string]any{"ResourceType": "Folder", "ResourceId.1": "fd-1"}, nil), fcevent.Ignore, "", nil, "does not concern members"},
		{"Resource Manager known only by its type", with(rmEvent("RemoveCloudAccount", map[string]any{"AccountId": guest}, nil), func(_, d map[string]any) {
			delete(d, "eventSource")
			delete(d, "serviceName")
		}), fcevent.Offboard, guest, nil, ""},
		{"invitation", rmEvent("InviteAccountToResourceDirectory", map[string]any{"TargetEntity": guest}, handshake(guest, "Account")), fcevent.Ignore, "", nil, "AcceptHandshake"},
		{"CreateFolder", rmEvent("CreateFolder", map[string]any{"FolderName": "x"}, nil), fcevent.Ignore, "", nil, "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := fcevent.DecodeCloudEvent(encode(t, tc.env))
			if err != nil {
				t.Fatal(err)
			}
			in, err := fcevent.MembershipIntent(ev)
			if err != nil {
				t.Fatal(err)
			}
			wantIDs := tc.ids
			if wantIDs == nil && tc.account != "" {
				wantIDs = []string{tc.account}
			}
			if in.Kind != tc.kind || in.AccountID != tc.account || strings.Join(in.AccountIDs, ",") != strings.Join(wantIDs, ",") {
				t.Fatalf("intent = %s %q %v (%s), want %s %q %v", in.Kind, in.AccountID, in.AccountIDs, in.Reason, tc.kind, tc.account, wantIDs)
			}
			if !strings.Contains(in.Reason, tc.reason) {
				t.Fatalf("reason = %q, want it to mention %q", in.Reason, tc.reason)
			}
			checkIntent(t, in)
			if in.EventName != ev.Data.EventName || in.EventID != "3462D6AF-0001" || in.Actor != ev.Data.UserIdentity.AccountID ||
				!in.EventTime.Equal(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)) {
				t.Fatalf("intent metadata = %+v", in)
			}
		})
	}
}

func TestMembershipIntentFallbacks(t *testing.T) {
	env := rmEvent("MoveAccount", map[string]any{"AccountId": dev}, nil)
	delete(data(env), "eventId")
	delete(data(env), "eventTime")
	ev, err := fcevent.DecodeCloudEvent(encode(t, env))
	if err != nil {
		t.Fatal(err)
	}
	in, err := fcevent.MembershipIntent(ev)
	if err != nil {
		t.Fatal(err)
	}
	// Without eventId/eventTime the envelope's id and time (+08:00, the same instant) stand in.
	if in.EventID != "45ef-0001" || !in.EventTime.Equal(time.Date(2025, 6, 1, 12, 0, 5, 0, time.UTC)) {
		t.Fatalf("intent = %+v", in)
	}
}

func TestMembershipIntentErrors(t *testing.T) {
	num := func(s string) json.Number { return json.Number(s) }
	tests := []struct {
		name        string
		env         map[string]any
		field, rule string
	}{
		{"create without any id", rmEvent("CreateResourceAccount", map[string]any{"DisplayName": "x"}, map[string]any{"RequestId": "r"}),
			"data.responseElements.Account.AccountId", fcevent.RuleRequired},
		{"create with a non-digit id", rmEvent("CreateResourceAccount", map[string]any{}, acct("12ab")),
			"data.responseElements.Account.AccountId", fcevent.RuleFormat},
		{"create with a 21-digit id", rmEvent("CreateResourceAccount", map[string]any{}, acct("123456789012345678901")),
			"data.responseElements.Account.AccountId", fcevent.RuleFormat},
		{"create with an exponent number", rmEvent("CreateResourceAccount", map[string]any{}, acct(num("5.2e15"))),
			"data.responseElements.Account.AccountId", fcevent.RuleFormat},
		{"create with a negative number", rmEvent("CreateResourceAccount", map[string]any{}, acct(num("-5"))),
			"data.responseElements.Account.AccountId", fcevent.RuleFormat},
		{"create with an object id", rmEvent("CreateResourceAccount", map[string]any{}, acct(map[string]any{})),
			"data.responseElements.Account.AccountId", fcevent.RuleType},
		{"remove without AccountId", rmEvent("RemoveCloudAccount", map[string]any{"RegionId": "cn-hangzhou"}, map[string]any{}),
			"data.requestParameters.AccountId", fcevent.RuleRequired},
		{"remove with an empty AccountId", rmEvent("RemoveCloudAccount", map[string]any{"AccountId": ""}, nil),
			"data.requestParameters.AccountId", fcevent.RuleRequired},
		{"delete with a bad AccountId", rmEvent("DeleteAccount", map[string]any{"AccountId": "acc-1"}, nil),
			"data.requestParameters.AccountId", fcevent.RuleFormat},
		{"move with a list AccountId", rmEvent("MoveAccount", map[string]any{"AccountId": []any{dev}}, nil),
			"data.requestParameters.AccountId", fcevent.RuleType},
		{"a bad id is not skipped for a fallback", rmEvent("UpdateAccount", map[string]any{"AccountId": "x"}, acct(dev)),
			"data.requestParameters.AccountId", fcevent.RuleFormat},
		{"accept naming nobody", with(rmEvent("AcceptHandshake", map[string]any{}, nil), func(_, d map[string]any) {
			delete(d, "userIdentity")
			delete(d, "recipientAccountId")
		}), "data.userIdentity.accountId", fcevent.RuleRequired},
		{"accept by a bad caller id", accepted("guest", nil), "data.userIdentity.accountId", fcevent.RuleFormat},
		{"accept where target and caller disagree", accepted(guest, handshake(dev, "Account")),
			"data.userIdentity.accountId", fcevent.RuleConflict},
		{"accept where caller and recipient disagree", with(accepted(guest, nil), func(_, d map[string]any) { d["recipientAccountId"] = dev }),
			"data.recipientAccountId", fcevent.RuleConflict},
		{"tag accounts without ids", rmEvent("TagResources", map[string]any{"ResourceType": "Account"}, nil),
			"data.requestParameters.ResourceId.1", fcevent.RuleRequired},
		{"tag a bad account id", rmEvent("TagResources", map[string]any{"ResourceType": "Account", "ResourceId.1": dev, "ResourceId.2": "fd-1"}, nil),
			"data.requestParameters.ResourceId.2", fcevent.RuleFormat},
		{"tag with an object in the list", rmEvent("TagResources", map[string]any{"ResourceType": "Account", "ResourceId": []any{map[string]any{}}}, nil),
			"data.requestParameters.ResourceId[0]", fcevent.RuleType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := fcevent.DecodeCloudEvent(encode(t, tc.env))
			if err != nil {
				t.Fatal(err)
			}
			in, err := fcevent.MembershipIntent(ev)
			wantFieldError(t, err, tc.field, tc.rule)
			if in.Kind != "" {
				t.Fatalf("intent %+v returned with an error", in)
			}
		})
	}
}

// checkIntent asserts what every intent promises, whatever the input (the fuzz targets use it too).
func checkIntent(t testing.TB, in fcevent.Intent) {
	t.Helper()
	switch in.Kind {
	case fcevent.Ignore:
		if in.AccountID != "" || len(in.AccountIDs) != 0 || in.Reason == "" {
			t.Fatalf("ignore intent must carry a reason and no account: %+v", in)
		}
	case fcevent.Enrol, fcevent.Offboard, fcevent.Reevaluate:
		if !fcevent.IsAccountID(in.AccountID) || len(in.AccountIDs) == 0 || in.AccountIDs[0] != in.AccountID || in.Reason == "" || in.EventName == "" {
			t.Fatalf("intent not well formed: %+v", in)
		}
		seen := map[string]bool{}
		for _, id := range in.AccountIDs {
			if !fcevent.IsAccountID(id) || seen[id] {
				t.Fatalf("bad or repeated id %q in %+v", id, in)
			}
			seen[id] = true
		}
	default:
		t.Fatalf("unknown kind %q", in.Kind)
	}
}

func TestIsAccountID(t *testing.T) {
	for s, want := range map[string]bool{
		"1": true, "1234567890123456": true, "12345678901234567890": true, "123456789012345678901": false,
		"": false, " 1": false, "1a": false, "-1": false, "١٢": false, "1.0": false,
	} {
		if got := fcevent.IsAccountID(s); got != want {
			t.Errorf("IsAccountID(%q) = %v, want %v", s, got, want)
		}
	}
}
