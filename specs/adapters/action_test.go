package adapters_test

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"go.yaml.in/yaml/v3"
)

// action is the part of action.yml a composite run needs.
type action struct {
	Inputs map[string]struct {
		Default  string `yaml:"default"`
		Required bool   `yaml:"required"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Value string `yaml:"value"`
	} `yaml:"outputs"`
	Runs struct {
		Using string `yaml:"using"`
		Steps []struct {
			Name  string            `yaml:"name"`
			ID    string            `yaml:"id"`
			If    string            `yaml:"if"`
			Uses  string            `yaml:"uses"`
			Shell string            `yaml:"shell"`
			Run   string            `yaml:"run"`
			Env   map[string]string `yaml:"env"`
			With  map[string]string `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"runs"`
}

// job is what a composite run of action.yml left behind, as a GitHub runner would see it.
type job struct {
	code    int                          // the job's exit code: the last failed step's, 0 if none failed
	failed  string                       // the name of the first step that failed
	outputs map[string]string            // the action's outputs
	steps   map[string]map[string]string // step outputs by id
	uses    map[string]map[string]string // the `with` of each action used, by its name without @version
	summary string                       // $GITHUB_STEP_SUMMARY
	path    []string                     // $GITHUB_PATH
	dir     string                       // $GITHUB_WORKSPACE, the steps' working directory
}

var expr = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// runAction runs the steps of the repository's action.yml the way a runner runs a composite
// action, with these inputs: run steps in bash with $GITHUB_OUTPUT, $GITHUB_STEP_SUMMARY,
// $GITHUB_PATH and $GITHUB_ACTION_PATH, `if:` conditions, and ${{ }} expressions. Steps that
// use another action are recorded, not run (actions/setup-go: Go is here already;
// actions/upload-artifact: the spec looks at the folder). An expression or a condition it
// does not know fails the spec: action.yml must stay within what this runner checks. env
// (KEY=VALUE) is added to every step's environment.
func runAction(inputs map[string]string, env ...string) job {
	b, err := os.ReadFile(filepath.Join(root, "action.yml"))
	Expect(err).NotTo(HaveOccurred())
	var a action
	Expect(yaml.Unmarshal(b, &a)).To(Succeed())
	Expect(a.Runs.Using).To(Equal("composite"))
	in := map[string]string{}
	for name, i := range a.Inputs {
		in[name] = i.Default
	}
	for name, v := range inputs {
		Expect(a.Inputs).To(HaveKey(name), "action.yml has no input %q", name)
		in[name] = v
	}
	for name, i := range a.Inputs {
		if i.Required {
			Expect(in[name]).NotTo(BeEmpty(), "required input %q", name)
		}
	}

	tmp := GinkgoT().TempDir()
	j := job{steps: map[string]map[string]string{}, uses: map[string]map[string]string{}, outputs: map[string]string{}, dir: tmp}
	summaryFile, pathFile := filepath.Join(tmp, "summary.md"), filepath.Join(tmp, "path")
	for _, f := range []string{summaryFile, pathFile} {
		Expect(os.WriteFile(f, nil, 0o644)).To(Succeed())
	}
	eval := func(s string) string {
		return expr.ReplaceAllStringFunc(s, func(m string) string {
			e := expr.FindStringSubmatch(m)[1]
			switch parts := strings.Split(e, "."); {
			case len(parts) == 2 && parts[0] == "inputs":
				Expect(in).To(HaveKey(parts[1]), "unknown input in %s", m)
				return in[parts[1]]
			case len(parts) == 4 && parts[0] == "steps" && parts[2] == "outputs":
				return j.steps[parts[1]][parts[3]]
			}
			Fail("action.yml: an expression the spec's runner does not know: " + m)
			return ""
		})
	}
	cond := func(c string) bool {
		if c == "" {
			c = "success()"
		}
		ok := true
		for _, term := range strings.Split(c, "&&") {
			term = strings.TrimSpace(term)
			m := regexp.MustCompile(`^inputs\.([\w-]+)\s*(==|!=)\s*'([^']*)'$`).FindStringSubmatch(term)
			switch {
			case term == "always()":
			case term == "success()":
				ok = ok && j.failed == ""
			case term == "failure()":
				ok = ok && j.failed != ""
			case m != nil:
				ok = ok && (in[m[1]] == m[3]) == (m[2] == "==")
			default:
				Fail("action.yml: a condition the spec's runner does not know: " + c)
			}
		}
		return ok
	}

	for _, st := range a.Runs.Steps {
		if !cond(st.If) {
			continue
		}
		if st.Uses != "" {
			with := map[string]string{}
			for k, v := range st.With {
				with[k] = eval(v)
			}
			j.uses[strings.SplitN(st.Uses, "@", 2)[0]] = with
			continue
		}
		Expect(st.Shell).To(Equal("bash"), "step %q", st.Name)
		out := filepath.Join(tmp, "output-"+st.ID+strings.ReplaceAll(st.Name, " ", "-"))
		Expect(os.WriteFile(out, nil, 0o644)).To(Succeed())
		cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", st.Run)
		cmd.Dir = tmp // the workspace
		paths := readLines(pathFile)
		cmd.Env = append(os.Environ(),
			"GITHUB_ACTION_PATH="+root, "RUNNER_TEMP="+tmp, "GITHUB_WORKSPACE="+tmp,
			"GITHUB_OUTPUT="+out, "GITHUB_STEP_SUMMARY="+summaryFile, "GITHUB_PATH="+pathFile,
			"PATH="+strings.Join(append(paths, os.Getenv("PATH")), ":"))
		cmd.Env = append(cmd.Env, env...)
		for k, v := range st.Env {
			cmd.Env = append(cmd.Env, k+"="+eval(v))
		}
		session, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(session, 3*time.Minute).Should(gexec.Exit(), "step %q", st.Name)
		if code := session.ExitCode(); code != 0 {
			j.code = code
			if j.failed == "" {
				j.failed = st.Name
			}
		}
		if st.ID != "" {
			j.steps[st.ID] = map[string]string{}
			for _, l := range readLines(out) {
				if k, v, ok := strings.Cut(l, "="); ok {
					j.steps[st.ID][k] = v
				}
			}
		}
	}
	for name, o := range a.Outputs {
		j.outputs[name] = eval(o.Value)
	}
	s, err := os.ReadFile(summaryFile)
	Expect(err).NotTo(HaveOccurred())
	j.summary, j.path = string(s), readLines(pathFile)
	return j
}

func readLines(path string) []string {
	f, err := os.Open(path)
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// uploaded is the folder the job uploads as an artifact, checked to hold the reports.
func uploaded(j job) string {
	Expect(j.uses).To(HaveKey("actions/upload-artifact"))
	up := j.uses["actions/upload-artifact"]
	Expect(up["name"]).To(Equal(j.outputs["artifact"]))
	dir := up["path"]
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(j.dir, dir)
	}
	for _, f := range []string{"results.json", "junit.xml"} {
		Expect(filepath.Join(dir, f)).To(BeARegularFile())
	}
	return dir
}

var _ = Describe("The GitHub Action", Label("action"), func() {
	It("passes an implementation that conforms: builds splitbrain from its checkout, uploads the results with a timeline per case, summarises, exits 0", func() {
		need("python3", "apt-get install -y python3") // the job summary
		j := runAction(map[string]string{
			"impl": splitbrain + " peer", "size": "quick", "args": "--case leader-kills,stale-socket",
		})
		Expect(j.failed).To(BeEmpty(), "summary:\n%s", j.summary)
		Expect(j.code).To(Equal(0))
		Expect(j.outputs).To(HaveKeyWithValue("exit-code", "0"))
		Expect(j.outputs).To(HaveKeyWithValue("verdict", "pass"))
		Expect(j.outputs).To(HaveKeyWithValue("artifact", "splitbrain-conformance"))

		By("installing from the checkout, onto the job's PATH")
		Expect(j.uses).To(HaveKey("actions/setup-go"))
		Expect(j.path).To(HaveLen(1))
		Expect(filepath.Join(j.path[0], "splitbrain")).To(BeAnExistingFile())
		Expect(j.steps["install"]).To(HaveKeyWithValue("path", filepath.Join(j.path[0], "splitbrain")))

		By("uploading the result folder, a timeline in each case")
		dir := uploaded(j)
		for _, c := range []string{"leader-kills", "stale-socket"} {
			Expect(filepath.Join(dir, "cases", c, "timeline.html")).To(BeARegularFile())
			Expect(filepath.Join(dir, "cases", c, "history.jsonl")).To(BeARegularFile())
		}

		By("a summary with the verdict, a row per case and the confidence line")
		Expect(j.summary).To(ContainSubstring("### splitbrain conformance: ✅ PASS (exit 0, valid)"))
		Expect(j.summary).To(MatchRegexp("(?m)^\\| `leader-kills` \\| ✅ pass \\| ✅ \\|"))
		Expect(j.summary).To(MatchRegexp("(?m)^\\| `stale-socket` \\| ✅ pass \\|"))
		Expect(j.summary).To(MatchRegexp(`\*\*Confidence:\*\* no split brain in \d+ leader kills: rate below [\d.]+ % at 95 % confidence`))
		Expect(j.summary).To(ContainSubstring("uploaded as the artifact `splitbrain-conformance`"))
		Expect(j.summary).NotTo(ContainSubstring("What went wrong"))
	})

	It("fails the job with exit 1 on a canary, and names the failed case, its evidence, replay and timeline", func() {
		need("python3", "apt-get install -y python3") // the job summary
		j := runAction(map[string]string{
			"impl": splitbrain + " peer --impl probe-unlink", "size": "quick", "args": "--case planted-files",
			"shard": "0/1", "setup-go": "false",
		})
		Expect(j.code).To(Equal(1), "summary:\n%s", j.summary)
		Expect(j.failed).To(Equal("verdict"), "only the last step fails the job")
		Expect(j.outputs).To(HaveKeyWithValue("verdict", "fail"))
		Expect(j.uses).NotTo(HaveKey("actions/setup-go"))
		Expect(j.outputs).To(HaveKeyWithValue("artifact", "splitbrain-conformance-0-of-1"))
		dir := uploaded(j)
		Expect(filepath.Join(dir, "cases", "planted-files", "timeline.html")).To(BeARegularFile())

		var rep struct {
			Cases []struct {
				Name, Replay string
			} `json:"cases"`
		}
		b, err := os.ReadFile(filepath.Join(dir, "results.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(json.Unmarshal(b, &rep)).To(Succeed())
		Expect(rep.Cases).To(HaveLen(1))
		Expect(j.summary).To(ContainSubstring("### splitbrain conformance: ❌ FAIL (exit 1, a violation)"))
		Expect(j.summary).To(MatchRegexp("(?m)^\\| `planted-files` \\| ❌ fail \\|"))
		// planted-files kills no leader on purpose: no bound, said as such.
		Expect(j.summary).To(MatchRegexp(`\*\*Confidence:\*\* (no leader kill, so no bound|no split brain in|split brain after)`))
		// The first failed invariant's first evidence (no-data-loss, usually: the canary
		// removes a planted file; under load another may come first).
		Expect(j.summary).To(MatchRegexp("(?m)^- ❌ `planted-files` fail: [a-z-]+: \\S"))
		Expect(j.summary).To(ContainSubstring("replay: `" + rep.Cases[0].Replay + "`"))
		Expect(j.summary).To(ContainSubstring("timeline: `cases/planted-files/timeline.html` in the artifact `splitbrain-conformance-0-of-1`"))
	})

	It("fails the job as a harness error, exit 3, when splitbrain cannot be installed", func() {
		need("python3", "apt-get install -y python3") // the job summary
		// GOPROXY=off: the version is looked up nowhere, and cannot be found.
		j := runAction(map[string]string{"impl": splitbrain + " peer", "version": "v0.0.0-20000101000000-000000000000", "setup-go": "false", "upload": "false"},
			"GOPROXY=off", "GOFLAGS=-mod=mod")
		Expect(j.failed).To(Equal("install splitbrain"))
		Expect(j.code).To(Equal(3))
		Expect(j.uses).NotTo(HaveKey("actions/upload-artifact"))
		Expect(j.summary).To(ContainSubstring("no readable results.json"))
	})
})

var _ = Describe("The example workflow (ci/github-actions.yml)", func() {
	It("uses the action with inputs the action has", func() {
		var a action
		b, err := os.ReadFile(filepath.Join(root, "action.yml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(yaml.Unmarshal(b, &a)).To(Succeed())
		var wf struct {
			Jobs map[string]struct {
				Steps []struct {
					Uses string            `yaml:"uses"`
					With map[string]string `yaml:"with"`
				} `yaml:"steps"`
			} `yaml:"jobs"`
		}
		b, err = os.ReadFile(filepath.Join(root, "ci", "github-actions.yml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(yaml.Unmarshal(b, &wf)).To(Succeed())
		used := 0
		for _, j := range wf.Jobs {
			for _, st := range j.Steps {
				if !strings.HasPrefix(st.Uses, "splitbrain-dev/splitbrain@") {
					continue
				}
				used++
				Expect(st.With).To(HaveKey("impl"))
				for k := range st.With {
					Expect(a.Inputs).To(HaveKey(k), "the workflow passes %q, which action.yml does not take", k)
				}
			}
		}
		Expect(used).To(BeNumerically(">=", 1))
	})
})
