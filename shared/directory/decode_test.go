package directory

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestFolderTreePath(t *testing.T) {
	tree := &folderTree{root: "r-1", parent: map[string]string{"r-1": "", "fd-a": "r-1", "fd-b": "fd-a", "fd-x": "fd-y", "fd-y": "fd-x"}}
	for _, tc := range []struct {
		id   string
		want []string
	}{
		{"r-1", []string{"r-1"}},
		{"fd-b", []string{"r-1", "fd-a", "fd-b"}},
		{"fd-unknown", nil},
		{"fd-x", nil}, // a cycle in a malformed answer ends, without a path
	} {
		if got := tree.path(tc.id); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("path(%s) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestPathFromRDPath(t *testing.T) {
	info := Info{ID: "rd-k3", RootFolderID: "r-Wm", ManagementAccountID: "1"}
	for _, tc := range []struct {
		in, account string
		want        []string
	}{
		{"rd-k3/r-Wm/fd-a/fd-b/151", "151", []string{"r-Wm", "fd-a", "fd-b"}},
		{"rd-k3/r-Wm/151", "151", []string{"r-Wm"}},
		{"rd-other/r-Wm/151", "151", nil},
		{"rd-k3/r-Wm/fd-a/152", "151", nil},
		{"", "151", nil},
	} {
		if got := pathFromRDPath(tc.in, info, tc.account); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("pathFromRDPath(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// FuzzPathFromRDPath: a ResourceDirectoryPath from the service never panics, and what is
// accepted starts at the root.
func FuzzPathFromRDPath(f *testing.F) {
	for _, s := range []string{"rd-k3/r-Wm/fd-a/151", "rd-k3/r-Wm/151", "/", "rd-k3//151", "rd-k3/r-Wm"} {
		f.Add(s, "151")
	}
	info := Info{ID: "rd-k3", RootFolderID: "r-Wm", ManagementAccountID: "1"}
	f.Fuzz(func(t *testing.T, p, account string) {
		got := pathFromRDPath(p, info, account)
		if got != nil && (len(got) == 0 || got[0] != info.RootFolderID) {
			t.Fatalf("pathFromRDPath(%q) = %v: not rooted at %s", p, got, info.RootFolderID)
		}
	})
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2021-01-18T08:01:50.522Z", "2021-01-18T08:01:50Z", "2021-01-18 08:01:50", "", "2021-02-30T00:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, err := parseTime(v)
		if err != nil {
			if !strings.Contains(err.Error(), "ISO 8601") {
				t.Fatalf("error %v does not say what is expected", err)
			}
			return
		}
		if got.Location() != time.UTC {
			t.Fatalf("parseTime(%q) = %v, not UTC", v, got)
		}
	})
}

func TestParseTime(t *testing.T) {
	got, err := parseTime("2021-01-18T08:01:50.522Z")
	if want := time.Date(2021, 1, 18, 8, 1, 50, 522e6, time.UTC); err != nil || !got.Equal(want) {
		t.Errorf("parseTime = %v, %v; want %v", got, err, want)
	}
	if _, err := parseTime("18/01/2021"); err == nil {
		t.Error("parseTime(18/01/2021): no error")
	}
}
