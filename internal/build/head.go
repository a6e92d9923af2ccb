package build

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
)

// branchRE is what a branch name must look like before it reaches git:
// no option (a leading -), no revision syntax, no spaces.
var branchRE = regexp.MustCompile(`^[A-Za-z0-9_.][A-Za-z0-9_./-]*$`)

// Head returns the commit at the head of branch in app's connected
// repository (git ls-remote, with the connection's credentials): what a
// build of the branch's head checks out.
func (p *Pipeline) Head(ctx context.Context, app, branch string) (string, error) {
	if !branchRE.MatchString(branch) || strings.Contains(branch, "..") || strings.HasSuffix(branch, ".lock") {
		return "", fmt.Errorf("branch %q is not a branch name", branch)
	}
	conn, _, err := p.Store.GetConnection(app)
	if err != nil {
		return "", err
	}
	key, token, err := p.Store.ConnectionCredentials(app)
	if err != nil {
		return "", err
	}
	env, cleanup, err := p.gitEnv(app, key, token)
	if err != nil {
		return "", err
	}
	defer cleanup()
	cmd := exec.CommandContext(ctx, "git", "ls-remote", "--heads", "--", conn.Repo, "refs/heads/"+branch)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		msg := err.Error()
		if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
			msg = strings.TrimSpace(string(ee.Stderr))
		}
		return "", fmt.Errorf("read the head of %s from %s: %s; check the repository's address and credentials (berth apps connect)", branch, conn.Repo, msg)
	}
	for _, line := range strings.Split(string(out), "\n") {
		commit, ref, ok := strings.Cut(strings.TrimSpace(line), "\t")
		if ok && ref == "refs/heads/"+branch && commitRE.MatchString(commit) {
			return commit, nil
		}
	}
	return "", fmt.Errorf("%w: %s has no branch %s; push it, or pick another", ErrNoBranch, conn.Repo, branch)
}

// ErrNoBranch is returned (wrapped) by Head for a branch the repository
// does not have.
var ErrNoBranch = errors.New("no such branch")
