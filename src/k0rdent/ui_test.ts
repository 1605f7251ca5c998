import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { UserError } from "../errors.ts";
import { assertGolden } from "../../tests/helpers/golden.ts";
import {
  allocatedNodePort,
  renderUiExpose,
  UI_NODEPORT_SERVICE,
  uiExposeObjects,
  uiPassword,
  uiServiceInfo,
  uiServiceName,
  uiUrls,
} from "./ui.ts";

/** The shape `kubectl get service kcm-k0rdent-ui -o json` prints (trimmed). */
const CHART_SERVICE = {
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: "kcm-k0rdent-ui", namespace: "kcm-system" },
  spec: {
    type: "ClusterIP",
    selector: { "app.kubernetes.io/name": "k0rdent-ui", "app.kubernetes.io/instance": "kcm" },
    ports: [{ name: "http", port: 80, protocol: "TCP", targetPort: 3000 }],
  },
};

Deno.test("uiServiceName() follows the helm release", () => {
  assert.equal(uiServiceName("kcm"), "kcm-k0rdent-ui");
});

Deno.test("renderUiExpose() matches its golden and parses to a Service and an Ingress", async () => {
  const text = renderUiExpose(uiServiceInfo(CHART_SERVICE));
  await assertGolden(import.meta.url, "ui-expose.yaml.golden", text);
  const docs = parseAllDocuments(text).map((d) => d.toJS());
  assert.deepEqual(docs.map((d) => `${d.kind}/${d.metadata.name}`), [
    `Service/${UI_NODEPORT_SERVICE}`,
    "Ingress/k0rdent-ui",
  ]);
  const [service, ingress] = docs;
  assert.equal(service.spec.type, "NodePort");
  assert.deepEqual(service.spec.selector, CHART_SERVICE.spec.selector);
  assert.equal(service.spec.ports[0].targetPort, 3000);
  assert.equal(service.spec.ports[0].nodePort, undefined);
  assert.deepEqual(ingress.spec.rules[0].http.paths[0].backend, {
    service: { name: "kcm-k0rdent-ui", port: { number: 80 } },
  });
  assert.equal(ingress.spec.ingressClassName, "nginx");
});

/**
 * The URI ingress-nginx hands the UI for `uri`, or null when the Ingress's location does not take
 * it. A model of kubernetes/ingress-nginx controller-v1.14.5
 * internal/ingress/controller/template/template.go: with `rewrite-target` set the location is the
 * regex `~* "^<path>"` (`buildLocation`), and `buildProxyPass` writes
 * `rewrite "(?i)<path>" <target> break;`: nginx replaces the whole URI by the target (with `$n`
 * of the match) whenever the regex matches.
 */
function ingressNginxRewrite(ingress: Record<string, unknown>, uri: string): string | null {
  const annotations = (ingress.metadata as { annotations: Record<string, string> }).annotations;
  const target = annotations["nginx.ingress.kubernetes.io/rewrite-target"];
  const rules = (ingress.spec as { rules: { http: { paths: { path: string }[] } }[] }).rules;
  const path = rules[0].http.paths[0].path;
  if (!new RegExp(`^${path}`, "i").test(uri)) return null;
  const m = new RegExp(path, "i").exec(uri);
  if (!m) return uri;
  return target.replace(/\$(\d)/g, (_, n) => m[Number(n)] ?? "");
}

Deno.test("the Ingress hands the UI the path below /k0rdent-ui, as ingress-nginx rewrites it", () => {
  const ingress = uiExposeObjects(uiServiceInfo(CHART_SERVICE))[1];
  assert.equal(ingressNginxRewrite(ingress, "/k0rdent-ui"), "/");
  assert.equal(ingressNginxRewrite(ingress, "/k0rdent-ui/"), "/");
  assert.equal(ingressNginxRewrite(ingress, "/k0rdent-ui/assets/app.js"), "/assets/app.js");
  assert.equal(ingressNginxRewrite(ingress, "/K0rdent-UI/api/v1/x"), "/api/v1/x");
  assert.equal(ingressNginxRewrite(ingress, "/other"), null);
  // ingress-nginx refuses a regex path with pathType Prefix (strict path validation).
  const paths = (ingress.spec as { rules: { http: { paths: { pathType: string }[] } }[] })
    .rules[0].http.paths;
  assert.equal(paths[0].pathType, "ImplementationSpecific");
});

Deno.test("uiExposeObjects() takes a fixed node port and ingress class", () => {
  const [service, ingress] = uiExposeObjects(uiServiceInfo(CHART_SERVICE), {
    nodePort: 30080,
    ingressClass: "traefik",
  }) as Record<string, Record<string, unknown>>[];
  assert.equal((service.spec.ports as Record<string, unknown>[])[0].nodePort, 30080);
  assert.equal(ingress.spec.ingressClassName, "traefik");
});

Deno.test("uiServiceInfo() rejects a service without ports or selector", () => {
  for (const bad of [{}, { metadata: { name: "x" }, spec: { ports: [] } }, null]) {
    assert.throws(() => uiServiceInfo(bad), UserError);
  }
  const named = uiServiceInfo({
    metadata: { name: "s", namespace: "n" },
    spec: { selector: { a: "b" }, ports: [{ port: 8080 }] },
  });
  assert.equal(named.port, 8080);
  assert.equal(named.targetPort, 8080);
});

Deno.test("allocatedNodePort() and uiUrls() give reachable URLs", () => {
  assert.equal(allocatedNodePort({ spec: { ports: [{ port: 80, nodePort: 31234 }] } }), 31234);
  assert.equal(allocatedNodePort({ spec: { ports: [{ port: 80 }] } }), undefined);
  assert.deepEqual(uiUrls(["10.0.0.5", "fd00::5"], 31234), [
    "http://10.0.0.5:31234",
    "http://[fd00::5]:31234",
    "http://10.0.0.5/k0rdent-ui/",
    "http://[fd00::5]/k0rdent-ui/",
  ]);
  assert.deepEqual(uiUrls(["10.0.0.5"], undefined), ["http://10.0.0.5/k0rdent-ui/"]);
});

Deno.test("uiPassword() reads BASIC_AUTH_PASSWORD of the k0rdent-ui container", () => {
  const deployment = (env: unknown[], name = "k0rdent-ui") => ({
    spec: { template: { spec: { containers: [{ name: "sidecar" }, { name, env }] } } },
  });
  assert.equal(uiPassword(deployment([{ name: "BASIC_AUTH_PASSWORD", value: "pw1" }])), "pw1");
  assert.equal(
    uiPassword(deployment([{ name: "BASIC_AUTH_PASSWORD", valueFrom: { secretKeyRef: {} } }])),
    undefined,
  );
  assert.equal(uiPassword(deployment([], "other")), undefined);
  assert.equal(uiPassword({}), undefined);
});
