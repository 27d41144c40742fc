package k8s

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Pod is what a collector that reaches into pods (through port-forward)
// needs to know of one: where it runs, its containers and their state,
// and the pod itself as `kubectl get -o json` prints it, for status lines.
type Pod struct {
	Namespace   string
	Name        string
	Node        string
	Phase       string
	Ready       bool
	Labels      map[string]string
	Annotations map[string]string
	// Containers are the pod's containers, native sidecars (init
	// containers that keep running) included.
	Containers []PodContainer
	// JSON is the pod as the API returned it, managed fields left out.
	JSON json.RawMessage
}

// PodContainer is one container of a Pod.
type PodContainer struct {
	Name        string
	Image       string
	Ports       []int  // declared container ports
	MemoryLimit string // "1Gi"; empty without a limit
	Ready       bool
	Restarts    int32
	// LastTerminated is the reason its previous instance ended
	// ("OOMKilled"), empty when it never restarted.
	LastTerminated string
}

// PodLister lists pods through the API, for collectors that then reach
// into them.
type PodLister struct {
	client kubernetes.Interface
	max    int
}

// NewPodLister returns a lister over client; max bounds one list (0:
// DefaultMaxObjects).
func NewPodLister(client kubernetes.Interface, max int) *PodLister {
	if max <= 0 {
		max = DefaultMaxObjects
	}
	return &PodLister{client: client, max: max}
}

// NewPodListerForConfig returns a lister for the cluster rc points at.
func NewPodListerForConfig(rc *rest.Config) (*PodLister, error) {
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client for %s: %w", rc.Host, err)
	}
	return NewPodLister(client, 0), nil
}

// Pods lists the pods of namespace that match selector ("" for all). When
// the list is cut at the bound, the pods read are returned with an error
// saying so.
func (l *PodLister) Pods(ctx context.Context, namespace, selector string) ([]Pod, error) {
	items, err := listAll(ctx, l.max, metav1.ListOptions{LabelSelector: selector},
		func(ctx context.Context, o metav1.ListOptions) ([]corev1.Pod, string, error) {
			list, err := l.client.CoreV1().Pods(namespace).List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return list.Items, list.Continue, nil
		})
	pods := make([]Pod, 0, len(items))
	for i := range items {
		pods = append(pods, podOf(&items[i]))
	}
	if err != nil {
		return pods, fmt.Errorf("list pods in %s: %w", namespace, err)
	}
	return pods, nil
}

func podOf(p *corev1.Pod) Pod {
	p.TypeMeta = metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}
	p.ManagedFields = nil
	raw, _ := json.Marshal(p)
	out := Pod{Namespace: p.Namespace, Name: p.Name, Node: p.Spec.NodeName, Phase: string(p.Status.Phase),
		Labels: p.Labels, Annotations: p.Annotations, JSON: raw}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			out.Ready = c.Status == corev1.ConditionTrue
		}
	}
	statuses := map[string]corev1.ContainerStatus{}
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		statuses[cs.Name] = cs
	}
	var specs []corev1.Container
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			specs = append(specs, c)
		}
	}
	for _, c := range append(specs, p.Spec.Containers...) {
		pc := PodContainer{Name: c.Name, Image: c.Image}
		for _, port := range c.Ports {
			pc.Ports = append(pc.Ports, int(port.ContainerPort))
		}
		if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
			pc.MemoryLimit = q.String()
		}
		if cs, ok := statuses[c.Name]; ok {
			pc.Ready, pc.Restarts = cs.Ready, cs.RestartCount
			if t := cs.LastTerminationState.Terminated; t != nil {
				pc.LastTerminated = t.Reason
			}
		}
		out.Containers = append(out.Containers, pc)
	}
	return out
}
