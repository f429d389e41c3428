package resourcemanager

import (
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// maxFolderDepth is the documented limit: five levels of folders under the root.
const maxFolderDepth = 5

var folderNameRE = regexp.MustCompile(`^[\p{Han}A-Za-z0-9_.-]+$`)

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

type folderEntry struct {
	FolderID   string `json:"FolderId"`
	FolderName string `json:"FolderName"`
	CreateTime string `json:"CreateTime"`
}

type folderDetail struct {
	FolderID              string `json:"FolderId"`
	FolderName            string `json:"FolderName"`
	ParentFolderID        string `json:"ParentFolderId"`
	CreateTime            string `json:"CreateTime"`
	ResourceDirectoryPath string `json:"ResourceDirectoryPath,omitempty"`
}

func entry(f *core.Folder) folderEntry {
	return folderEntry{FolderID: f.FolderID, FolderName: f.FolderName, CreateTime: core.APITime(f.CreateTime)}
}

func folderPath(w *core.World, id string) string {
	return strings.Join(append([]string{w.Directory.ResourceDirectoryID}, w.FolderPathLocked(id)...), "/")
}

// depthLocked is a folder's level: 0 for the root.
func depthLocked(w *core.World, id string) int { return len(w.FolderPathLocked(id)) - 1 }

// childrenLocked are a folder's direct subfolders, oldest first.
func childrenLocked(w *core.World, parent string) []*core.Folder {
	var out []*core.Folder
	for _, f := range w.Folders {
		if f.ParentFolderID == parent && f.FolderID != parent {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreateTime.Equal(out[j].CreateTime) {
			return out[i].CreateTime.Before(out[j].CreateTime)
		}
		return out[i].FolderID < out[j].FolderID
	})
	return out
}

func checkFolderName(name, param string) error {
	if name == "" {
		return core.Errorf(400, "MissingParameter.Folder.Name", "You must specify the resource folder name (%s).", param)
	}
	if n := utf8.RuneCountInString(name); n > 24 {
		return core.Errorf(400, "InvalidParameter.Folder.Name.Length", "The Name of folder exceeds the length limit: %s has %d characters, at most 24.", param, n)
	}
	if !folderNameRE.MatchString(name) {
		return core.Errorf(400, "InvalidParameter.Folder.Name", "The Name of folder is invalid: use Chinese characters, letters, digits and _ . - only.")
	}
	return nil
}

func (s *service) createFolder(c *core.Call) (any, error) {
	name := c.Get("FolderName")
	if err := checkFolderName(name, "FolderName"); err != nil {
		return nil, err
	}
	w := c.World
	w.Mu.Lock()
	defer w.Mu.Unlock()
	if err := authorize(w, c, management); err != nil {
		return nil, err
	}
	parent, err := folderIDParam(w, c, "ParentFolderId", true)
	if err != nil {
		return nil, err
	}
	for _, f := range childrenLocked(w, parent) {
		if f.FolderName == name {
			return nil, core.Errorf(400, "InvalidParameter.Folder.Name.AlreadyUsed", "The name already exists under the same parent. Please change to another name: %s.", name)
		}
	}
	if depthLocked(w, parent)+1 > maxFolderDepth {
		return nil, core.Errorf(409, "LimitExceeded.Folder.Depth", "The folder depth exceeds the limit of %d.", maxFolderDepth)
	}
	f := &core.Folder{FolderName: name, ParentFolderID: parent, CreateTime: w.Now()}
	for {
		f.FolderID = "fd-" + core.NewID(alnum, 10)
		if _, taken := w.Folders[f.FolderID]; !taken {
			break
		}
	}
	w.Folders[f.FolderID] = f
	resp := map[string]any{"Folder": folderDetail{
		FolderID: f.FolderID, FolderName: f.FolderName, ParentFolderID: parent, CreateTime: core.APITime(f.CreateTime),
	}}
	record(c, ResourceTypeFolder, f.FolderID, resp)
	return resp, nil
}

func (s *service) deleteFolder(c *core.Call) (any, error) {
	if _, err := required(c, "FolderId", "FolderId"); err != nil {
		return nil, err
	}
	w := c.World
	w.Mu.Lock()
	defer w.Mu.Unlock()
	if err := authorize(w, c, management); err != nil {
		return nil, err
	}
	id, err := folderIDParam(w, c, "FolderId", false)
	if err != nil {
		return nil, err
	}
	if id == w.Directory.RootFolderID {
		return nil, core.Errorf(400, "InvalidParameter.FolderId", "The FolderId is invalid: the root folder cannot be deleted.")
	}
	if len(childrenLocked(w, id)) > 0 {
		return nil, core.Errorf(409, "DeleteConflict.Folder.SubFolder", "This folder has sub folders: delete them first.")
	}
	for _, a := range w.Accounts {
		if a.InDirectory && a.FolderID == id {
			return nil, core.Errorf(409, "DeleteConflict.Folder.Account", "This folder has accounts: move or remove them first.")
		}
	}
	delete(w.Folders, id)
	record(c, ResourceTypeFolder, id, map[string]any{})
	return map[string]any{}, nil
}

func (s *service) getFolder(c *core.Call) (any, error) {
	if _, err := required(c, "FolderId", "FolderId"); err != nil {
		return nil, err
	}
	w := c.World
	w.Mu.RLock()
	defer w.Mu.RUnlock()
	if err := authorize(w, c, delegatedAdmin); err != nil {
		return nil, err
	}
	id, err := folderIDParam(w, c, "FolderId", false)
	if err != nil {
		return nil, err
	}
	f := w.Folders[id]
	return map[string]any{"Folder": folderDetail{
		FolderID: f.FolderID, FolderName: f.FolderName, ParentFolderID: f.ParentFolderID,
		CreateTime: core.APITime(f.CreateTime), ResourceDirectoryPath: folderPath(w, id),
	}}, nil
}

func (s *service) listFoldersForParent(c *core.Call) (any, error) {
	page, size, err := paging(c)
	if err != nil {
		return nil, err
	}
	w := c.World
	w.Mu.RLock()
	defer w.Mu.RUnlock()
	if err := authorize(w, c, delegatedAdmin); err != nil {
		return nil, err
	}
	parent, err := folderIDParam(w, c, "ParentFolderId", true)
	if err != nil {
		return nil, err
	}
	q := strings.ToLower(c.Get("QueryKeyword"))
	var matched []*core.Folder
	for _, f := range childrenLocked(w, parent) {
		if q == "" || strings.Contains(strings.ToLower(f.FolderName), q) {
			matched = append(matched, f)
		}
	}
	lo, hi := window(len(matched), page, size)
	out := make([]folderEntry, 0, hi-lo)
	for _, f := range matched[lo:hi] {
		out = append(out, entry(f))
	}
	return map[string]any{
		"TotalCount": len(matched), "PageNumber": page, "PageSize": size,
		"Folders": map[string]any{"Folder": out},
	}, nil
}

// listAncestors lists the folders above ChildId, root first. ChildId may be a folder or, as a
// convenience the product relies on, a member account id (its whole folder path).
func (s *service) listAncestors(c *core.Call) (any, error) {
	child, err := required(c, "ChildId", "ChildId")
	if err != nil {
		return nil, err
	}
	if !folderIDRE.MatchString(child) && !accountIDRE.MatchString(child) {
		return nil, core.Errorf(400, "InvalidParameter.ChildId", "The ChildId is invalid: a folder id (r-xxxx, fd-xxxx) or an account id.")
	}
	w := c.World
	w.Mu.RLock()
	defer w.Mu.RUnlock()
	if err := authorize(w, c, delegatedAdmin); err != nil {
		return nil, err
	}
	var path []string
	if accountIDRE.MatchString(child) {
		a, ok := w.Accounts[child]
		if !ok || !a.InDirectory {
			return nil, errNoAccount(child)
		}
		path = w.FolderPathLocked(a.FolderID)
	} else {
		if _, ok := w.Folders[child]; !ok {
			return nil, errNoFolder(child)
		}
		path = w.FolderPathLocked(child)
		path = path[:len(path)-1]
	}
	out := make([]folderEntry, 0, len(path))
	for _, id := range path {
		out = append(out, entry(w.Folders[id]))
	}
	return map[string]any{"Folders": map[string]any{"Folder": out}}, nil
}
