package k8s

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	discoveryfake "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/store/storetest"
)

func at(hhmm string) metav1.Time {
	t, err := time.Parse("2006-01-02T15:04", "2025-08-21T"+hhmm)
	if err != nil {
		panic(err)
	}
	return metav1.NewTime(t)
}

var eepGVR = schema.GroupVersionResource{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Resource: "envoyextensionpolicies"}

// fakeCluster is a small cluster in client-go's fakes: a pod that was
// OOM-killed in the window and one created after it, a Deployment, its
// ReplicaSets and HPA, a node under memory pressure, events in both APIs
// and a custom resource that its controller rejected.
func fakeCluster(t *testing.T) *Collector {
	t.Helper()
	one, three := int32(1), int32(3)
	objs := []runtime.Object{
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", CreationTimestamp: at("01:00"), Labels: map[string]string{"app": "web"}},
			Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "app"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning,
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: at("03:31")}},
				ContainerStatuses: []corev1.ContainerStatus{{Name: "app", RestartCount: 3, Ready: true,
					State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: at("03:30")}},
					LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
						Reason: "OOMKilled", ExitCode: 137, StartedAt: at("03:10"), FinishedAt: at("03:29")}}}}}},
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "later-1", Namespace: "shop", CreationTimestamp: at("05:00")},
			Status:     corev1.PodStatus{Phase: corev1.PodPending, Reason: "Unschedulable"}},
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", CreationTimestamp: at("00:10")},
			Spec:       appsv1.DeploymentSpec{Replicas: &three},
			Status: appsv1.DeploymentStatus{Replicas: 3, ReadyReplicas: 2, UnavailableReplicas: 1,
				Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionFalse,
					Reason: "MinimumReplicasUnavailable", Message: "Deployment does not have minimum availability.", LastTransitionTime: at("03:29")}}}},
		&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-7d9c", Namespace: "shop", CreationTimestamp: at("03:05")},
			Spec: appsv1.ReplicaSetSpec{Replicas: &three}, Status: appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 2}},
		&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-old", Namespace: "shop", CreationTimestamp: metav1.NewTime(time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC))},
			Spec: appsv1.ReplicaSetSpec{Replicas: new(int32)}},
		&autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", CreationTimestamp: at("00:10")},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: &one, MaxReplicas: 3,
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "web"}},
			Status: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 3, DesiredReplicas: 5,
				Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{{Type: autoscalingv2.ScalingLimited, Status: corev1.ConditionTrue,
					Reason: "TooManyReplicas", Message: "the desired replica count is more than the maximum replica count", LastTransitionTime: at("03:12")}}}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", CreationTimestamp: at("00:00")},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionTrue,
				Reason: "KubeletHasInsufficientMemory", Message: "kubelet has insufficient memory available", LastTransitionTime: at("03:27")}}}},
		&corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "web-1.1", Namespace: "shop", UID: "u1"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-1", Namespace: "shop"}, Type: "Warning", Reason: "BackOff",
			Message: "Back-off restarting failed container app", Count: 4, FirstTimestamp: at("03:29"), LastTimestamp: at("03:30")},
		&eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Name: "web-1.1", Namespace: "shop", UID: "u1"},
			Regarding: corev1.ObjectReference{Kind: "Pod", Name: "web-1", Namespace: "shop"}, Type: "Warning", Reason: "BackOff",
			Note: "Back-off restarting failed container app", DeprecatedCount: 4, DeprecatedFirstTimestamp: at("03:29"), DeprecatedLastTimestamp: at("03:30")},
		&eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Name: "web.2", Namespace: "shop", UID: "u2"},
			Regarding: corev1.ObjectReference{Kind: "Deployment", Name: "web", Namespace: "shop"}, Type: "Normal", Reason: "ScalingReplicaSet",
			Note: "Scaled up replica set web-7d9c to 3", EventTime: metav1.NewMicroTime(at("03:05").Time), ReportingController: "deployment-controller"},
		&corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "web.old", Namespace: "shop", UID: "u3"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-0", Namespace: "shop"}, Type: "Normal", Reason: "Pulled",
			Message: "Container image already present on machine", FirstTimestamp: at("01:00"), LastTimestamp: at("01:00")},
		&corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "n1.1", Namespace: "default", UID: "u4"},
			InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: "n1"}, Type: "Warning", Reason: "SystemOOM",
			Message: "System OOM encountered, victim process: app, pid: 4242", FirstTimestamp: at("03:29"), LastTimestamp: at("03:29"),
			Source: corev1.EventSource{Component: "kubelet", Host: "n1"}},
	}
	client := fake.NewClientset(objs...)
	client.Discovery().(*discoveryfake.FakeDiscovery).Resources = []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{{Name: "pods", Namespaced: true, Kind: "Pod", Verbs: []string{"get", "list"}}}},
		{GroupVersion: "gateway.envoyproxy.io/v1alpha1", APIResources: []metav1.APIResource{
			{Name: "envoyextensionpolicies", Namespaced: true, Kind: "EnvoyExtensionPolicy", Verbs: []string{"get", "list", "watch"}},
			{Name: "envoyextensionpolicies/status", Namespaced: true, Kind: "EnvoyExtensionPolicy", Verbs: []string{"get"}},
		}},
	}
	eep := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "EnvoyExtensionPolicy",
		"metadata": map[string]any{"name": "plugins", "namespace": "shop", "creationTimestamp": "2025-08-20T23:04:52Z"},
		"status": map[string]any{"ancestors": []any{map[string]any{
			"ancestorRef": map[string]any{"kind": "Gateway", "name": "eg", "namespace": "shop"},
			"conditions": []any{map[string]any{"type": "Accepted", "status": "False", "reason": "Invalid",
				"message": "Wasm: wasm cache is not initialized.", "lastTransitionTime": "2025-08-21T03:49:16Z"}},
		}}},
	}}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{eepGVR: "EnvoyExtensionPolicyList"}, eep)
	return New(client, dyn, Config{Namespaces: []string{"shop"}})
}

func TestFakeClientset(t *testing.T) {
	sink := newMemSink()
	inc := causeway.Incident{ID: 3, WindowStart: at("03:00").Time, WindowEnd: at("04:00").Time}
	if err := fakeCluster(t).Collect(context.Background(), &inc, sink); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, source, text string
		kind               causeway.LineKind
		time               time.Time
	}{
		{"custom resource condition", "k8s/shop/envoyextensionpolicies.gateway.envoyproxy.io.json",
			"EnvoyExtensionPolicy shop/plugins Accepted=False reason=Invalid: Wasm: wasm cache is not initialized. (ancestor: Gateway shop/eg)",
			causeway.LineCondition, time.Date(2025, 8, 21, 3, 49, 16, 0, time.UTC)},
		{"last termination", "k8s/shop/pods.json", "Pod shop/web-1 container app last terminated reason=OOMKilled exitCode=137",
			causeway.LineStatus, at("03:29").Time},
		{"restarts", "k8s/shop/pods.json", "Pod shop/web-1 container app restarts=3 ready=true", causeway.LineStatus, at("03:31").Time},
		{"deployment condition", "k8s/shop/deployments.json",
			"Deployment shop/web Available=False reason=MinimumReplicasUnavailable: Deployment does not have minimum availability.",
			causeway.LineCondition, at("03:29").Time},
		{"hpa replicas", "k8s/shop/horizontalpodautoscalers.json",
			"HorizontalPodAutoscaler shop/web replicas current=3 desired=5 min=1 max=3 target=Deployment/web", causeway.LineStatus, at("03:12").Time},
		{"hpa condition", "k8s/shop/horizontalpodautoscalers.json", "HorizontalPodAutoscaler shop/web ScalingLimited=True reason=TooManyReplicas",
			causeway.LineCondition, at("03:12").Time},
		{"rollout", "k8s/shop/replicasets.json", "ReplicaSet shop/web-7d9c replicas desired=3 current=3", causeway.LineStatus, at("03:05").Time},
		{"node pressure", "k8s/nodes.json", "Node n1 MemoryPressure=True reason=KubeletHasInsufficientMemory", causeway.LineCondition, at("03:27").Time},
		{"node event", "k8s/nodes/events.json", "Warning SystemOOM node/n1: System OOM encountered", causeway.LineEvent, at("03:29").Time},
		{"event", "k8s/shop/events.json", "Warning BackOff pod/web-1 (ns shop): Back-off restarting failed container app (x4)", causeway.LineEvent, at("03:30").Time},
		{"events.k8s.io only", "k8s/shop/events.json", "Normal ScalingReplicaSet deployment/web (ns shop): Scaled up replica set web-7d9c to 3",
			causeway.LineEvent, at("03:05").Time},
		{"previous log", "k8s/shop/logs/web-1/app.previous.log", "fake logs", causeway.LineLog, time.Time{}},
		{"current log", "k8s/shop/logs/web-1/app.log", "fake logs", causeway.LineLog, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var found *causeway.Line
			for i, l := range sink.lines[tt.source] {
				if strings.HasPrefix(l.Text, tt.text) {
					found = &sink.lines[tt.source][i]
					break
				}
			}
			if found == nil {
				t.Fatalf("no line %q in %s; collected:\n%s", tt.text, tt.source, sink.render())
			}
			if found.Kind != tt.kind || !found.Time.Equal(tt.time) {
				t.Errorf("line %q: kind %s at %s, want %s at %s", found.Text, found.Kind, found.Time, tt.kind, tt.time)
			}
			if found.Attrs["namespace"] == "" && !strings.HasPrefix(tt.source, "k8s/nodes") {
				t.Errorf("line %q has no namespace attribute: %v", found.Text, found.Attrs)
			}
		})
	}
	if got := strings.Count(sink.render(), "BackOff"); got != 1 {
		t.Errorf("the event served by both APIs came out %d times, want once", got)
	}
	for _, absent := range []string{"later-1", "web-old", "Pulled"} {
		if l, ok := sink.find(absent); ok {
			t.Errorf("line %q is about something outside the window", l.Text)
		}
	}
	for name, src := range sink.sources {
		if src.Error != "" {
			t.Errorf("source %s: unexpected error %q", name, src.Error)
		}
	}
}

func TestCollectTwiceIntoTheStoreAddsNothing(t *testing.T) {
	db := storetest.MustOpenDB(t)
	ctx := context.Background()
	inc := &causeway.Incident{Title: "web OOM", WindowStart: at("03:00").Time, WindowEnd: at("04:00").Time}
	if err := db.CreateIncident(ctx, inc); err != nil {
		t.Fatal(err)
	}
	c := fakeCluster(t)
	if err := c.Collect(ctx, inc, db); err != nil {
		t.Fatal(err)
	}
	first, err := db.LineCount(ctx, inc.ID)
	if err != nil || first == 0 {
		t.Fatalf("first collection stored %d lines (%v)", first, err)
	}
	if err := c.Collect(ctx, inc, db); err != nil {
		t.Fatal(err)
	}
	if second, _ := db.LineCount(ctx, inc.ID); second != first {
		t.Errorf("collecting the same window again: %d lines, want %d", second, first)
	}
}

func TestWithoutDynamicClientCustomResourcesAreSkipped(t *testing.T) {
	c := fakeCluster(t)
	c.dynamic = nil
	sink := newMemSink()
	inc := causeway.Incident{ID: 1, WindowStart: at("03:00").Time, WindowEnd: at("04:00").Time}
	if err := c.Collect(context.Background(), &inc, sink); err != nil {
		t.Fatal(err)
	}
	if _, ok := sink.find("EnvoyExtensionPolicy"); ok {
		t.Errorf("custom resources collected without a dynamic client")
	}
	if _, ok := sink.find("OOMKilled"); !ok {
		t.Errorf("built-in objects were not collected")
	}
}

func TestParseScope(t *testing.T) {
	tests := []struct {
		in   string
		want Scope
		ok   bool
	}{
		{"envoy-gateway-system", Scope{Namespace: "envoy-gateway-system"}, true},
		{"istio-system:app=istiod", Scope{Namespace: "istio-system", Selector: "app=istiod"}, true},
		{" ingress-nginx:app.kubernetes.io/component in (controller)", Scope{Namespace: "ingress-nginx", Selector: "app.kubernetes.io/component in (controller)"}, true},
		{":app=x", Scope{}, false},
		{"ns:app in (", Scope{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseScope(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("ParseScope(%q) = %+v, %v; want %+v, ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
			if err != nil && causeway.ErrorCode(err) != causeway.EINVALID {
				t.Errorf("error code = %s, want invalid", causeway.ErrorCode(err))
			}
		})
	}
}

// TestClusterRoleIsReadOnly reads deploy/rbac.yaml: every rule the
// collector is granted reads, and none reads secrets. The one exception is
// the mesh collector's own role, which may only port-forward to pods.
func TestClusterRoleIsReadOnly(t *testing.T) {
	f, err := os.Open("../../deploy/rbac.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	var roles int
	needed := map[string]bool{"pods": false, "pods/log": false, "events": false, "nodes": false, "deployments": false,
		"replicasets": false, "horizontalpodautoscalers": false}
	for {
		var role rbacv1.ClusterRole
		if err := dec.Decode(&role); err != nil {
			break
		}
		if role.Kind != "ClusterRole" {
			continue
		}
		roles++
		for _, r := range role.Rules {
			if role.Name == "causeway-mesh-portforward" {
				if len(r.Resources) != 1 || r.Resources[0] != "pods/portforward" || len(r.APIGroups) != 1 || r.APIGroups[0] != "" {
					t.Errorf("role %s grants more than pods/portforward: %+v", role.Name, r)
				}
				continue
			}
			for _, v := range r.Verbs {
				if v != "get" && v != "list" && v != "watch" {
					t.Errorf("role %s grants %q on %v", role.Name, v, r.Resources)
				}
			}
			for _, res := range r.Resources {
				if res == "secrets" || res == "*" && (len(r.APIGroups) == 0 || r.APIGroups[0] == "" || r.APIGroups[0] == "*") {
					t.Errorf("role %s can read secrets: %+v", role.Name, r)
				}
				if _, ok := needed[res]; ok {
					needed[res] = true
				}
			}
		}
	}
	if roles == 0 {
		t.Fatal("no ClusterRole in deploy/rbac.yaml")
	}
	for res, ok := range needed {
		if !ok {
			t.Errorf("no rule grants %s, which the collector reads", res)
		}
	}
}

func TestRESTConfigReadsKubeconfigLists(t *testing.T) {
	dir := t.TempDir()
	write := func(name, server, ctx string) string {
		p := dir + "/" + name
		cfg := `apiVersion: v1
kind: Config
clusters: [{name: ` + ctx + `, cluster: {server: "` + server + `"}}]
users: [{name: ` + ctx + `, user: {token: t}}]
contexts: [{name: ` + ctx + `, context: {cluster: ` + ctx + `, user: ` + ctx + `}}]
current-context: ` + ctx + "\n"
		if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	prod := write("prod", "https://prod.example:6443", "prod")
	staging := write("staging", "https://staging.example:6443", "staging")
	tests := []struct {
		kubeconfig, context, host string
	}{
		{prod, "", "https://prod.example:6443"},
		{prod + string(os.PathListSeparator) + staging, "staging", "https://staging.example:6443"},
	}
	for _, tt := range tests {
		rc, err := RESTConfig(tt.kubeconfig, tt.context)
		if err != nil || rc.Host != tt.host {
			t.Errorf("RESTConfig(%q, %q) = %v, %v; want host %s", tt.kubeconfig, tt.context, rc, err, tt.host)
		}
	}
	if _, err := RESTConfig(dir+"/missing", ""); err == nil {
		t.Errorf("a missing kubeconfig gave no error")
	}
}
