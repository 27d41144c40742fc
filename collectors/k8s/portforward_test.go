package k8s

import (
	"context"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
)

// fakeKubelet is an API server whose pods/portforward subresource speaks
// the WebSocket channel protocol as the kubelet does: it writes the port
// on the data and the error channel, then pipes channel 0 to the pod's
// port (here: a test server per port) and reports failures on channel 1.
type fakeKubelet struct {
	token    string
	backends map[int]string // port -> address the pod serves it on
	requests int
}

func (k *fakeKubelet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.requests++
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) != 7 || parts[6] != "portforward" {
		http.NotFound(w, r)
		return
	}
	pod := parts[5]
	if r.Header.Get("Authorization") != "Bearer "+k.token {
		http.Error(w, `{"kind":"Status","message":"Unauthorized","code":401}`, http.StatusUnauthorized)
		return
	}
	if pod == "forbidden" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"forbidden\" is forbidden: User \"system:serviceaccount:causeway:causeway-collector\" cannot create resource \"pods/portforward\" in API group \"\" in the namespace \"%s\"","reason":"Forbidden","code":403}`, parts[3])
		return
	}
	port, _ := strconv.Atoi(r.URL.Query().Get("ports"))
	srv := websocket.Server{
		Handshake: func(cfg *websocket.Config, r *http.Request) error {
			for _, p := range cfg.Protocol {
				if p == portForwardProtocol {
					cfg.Protocol = []string{p}
					return nil
				}
			}
			return errors.New("no supported protocol")
		},
		Handler: func(ws *websocket.Conn) {
			defer ws.Close()
			prefix := binary.LittleEndian.AppendUint16(nil, uint16(port))
			send := func(ch byte, data []byte) error {
				return websocket.Message.Send(ws, append([]byte{ch}, data...))
			}
			if send(0, prefix) != nil || send(1, prefix) != nil {
				return
			}
			addr, ok := k.backends[port]
			if !ok {
				_ = send(1, fmt.Appendf(nil, "an error occurred forwarding %d -> %d: error forwarding port %d to pod %s: failed to connect to localhost:%d inside namespace: connect: connection refused", port, port, port, pod, port))
				return
			}
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				_ = send(1, []byte(err.Error()))
				return
			}
			defer conn.Close()
			go func() {
				for {
					var msg []byte
					if websocket.Message.Receive(ws, &msg) != nil {
						conn.Close()
						return
					}
					if len(msg) > 1 && msg[0] == 0 {
						if _, err := conn.Write(msg[1:]); err != nil {
							return
						}
					}
				}
			}()
			buf := make([]byte, 32<<10)
			for {
				n, err := conn.Read(buf)
				if n > 0 && send(0, buf[:n]) != nil {
					return
				}
				if err != nil {
					return
				}
			}
		},
	}
	srv.ServeHTTP(w, r)
}

// startKubelet serves a fake API server over TLS and returns a rest.Config
// that trusts it, as a kubeconfig would.
func startKubelet(t *testing.T, k *fakeKubelet) *rest.Config {
	t.Helper()
	srv := httptest.NewTLSServer(k)
	t.Cleanup(srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return &rest.Config{Host: srv.URL, BearerToken: k.token, TLSClientConfig: rest.TLSClientConfig{CAData: ca}}
}

// httpClient sends requests to pods through d, as the mesh collector does.
func httpClient(d *PortForwarder, ns, pod string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			_, port, _ := net.SplitHostPort(addr)
			p, _ := strconv.Atoi(port)
			return d.DialPod(ctx, ns, pod, p)
		},
	}}
}

// TestPortForward: an HTTP request to a pod's admin port goes through the
// API server's port-forward, with the kubeconfig's TLS trust and token,
// and the answer is the pod's; refusals say why.
func TestPortForward(t *testing.T) {
	admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/memory" {
			http.NotFound(w, r)
			return
		}
		// Large enough to take several messages.
		fmt.Fprintf(w, `{"allocated":"904108408","heap_size":"995139918","pad":%q}`, strings.Repeat("x", 100<<10))
	}))
	defer admin.Close()
	k := &fakeKubelet{token: "test-token", backends: map[int]string{15000: admin.Listener.Addr().String()}}
	rc := startKubelet(t, k)
	pf, err := NewPortForwarder(rc)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("request through the forward", func(t *testing.T) {
		resp, err := httpClient(pf, "search", "search-api-84c5f7d9b6-h6vnc").Get("http://pod:15000/memory")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), `{"allocated":"904108408"`) || len(body) < 100<<10 {
			t.Fatalf("status %d, %d bytes, %v: %.80s", resp.StatusCode, len(body), err, body)
		}
	})
	t.Run("forbidden by RBAC", func(t *testing.T) {
		_, err := pf.DialPod(context.Background(), "mesh", "forbidden", 15000)
		var pfe *PortForwardError
		if !errors.As(err, &pfe) || pfe.Status != http.StatusForbidden || !strings.Contains(pfe.Message, `cannot create resource "pods/portforward"`) {
			t.Fatalf("err = %v, want the API server's 403 with its message", err)
		}
	})
	t.Run("port not listening in the pod", func(t *testing.T) {
		_, err := httpClient(pf, "search", "search-api-84c5f7d9b6-h6vnc").Get("http://pod:15001/memory")
		if err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("err = %v, want the kubelet's connection refused", err)
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		bad := *rc
		bad.BearerToken = "expired"
		pf, err := NewPortForwarder(&bad)
		if err != nil {
			t.Fatal(err)
		}
		_, err = pf.DialPod(context.Background(), "search", "search-api-84c5f7d9b6-h6vnc", 15000)
		var pfe *PortForwardError
		if !errors.As(err, &pfe) || pfe.Status != http.StatusUnauthorized {
			t.Fatalf("err = %v, want 401", err)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := pf.DialPod(ctx, "search", "x", 15000); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

// TestPodLister: pods come with their containers (native sidecars
// included, one-shot init containers not), limits, restarts and the JSON
// their status lines are read from.
func TestPodLister(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "search", Name: "search-api-84c5f7d9b6-h6vnc", Labels: map[string]string{"app": "search-api"},
			Annotations: map[string]string{"sidecar.istio.io/status": `{"containers":["istio-proxy"]}`}},
		Spec: corev1.PodSpec{NodeName: "ip-172-20-11-4",
			InitContainers: []corev1.Container{{Name: "istio-init"}, {Name: "istio-proxy", RestartPolicy: &always,
				Ports:     []corev1.ContainerPort{{ContainerPort: 15090}},
				Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}}}},
			Containers: []corev1.Container{{Name: "search-api", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			InitContainerStatuses: []corev1.ContainerStatus{{Name: "istio-proxy", Ready: true, RestartCount: 1,
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}}}}},
	}
	other := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "search", Name: "indexer", Labels: map[string]string{"app": "indexer"}}}
	l := NewPodLister(fake.NewSimpleClientset(pod, other), 0)
	pods, err := l.Pods(context.Background(), "search", "app=search-api")
	if err != nil || len(pods) != 1 {
		t.Fatalf("Pods: %d pods, %v", len(pods), err)
	}
	p := pods[0]
	if !p.Ready || p.Node != "ip-172-20-11-4" || len(p.Containers) != 2 {
		t.Fatalf("pod %+v", p)
	}
	proxy := p.Containers[0]
	if proxy.Name != "istio-proxy" || proxy.MemoryLimit != "1Gi" || proxy.Restarts != 1 || proxy.LastTerminated != "OOMKilled" || proxy.Ports[0] != 15090 {
		t.Errorf("native sidecar %+v", proxy)
	}
	if !strings.Contains(string(p.JSON), `"kind":"Pod"`) || !strings.Contains(string(p.JSON), `"reason":"OOMKilled"`) {
		t.Errorf("JSON %s", p.JSON)
	}
}
