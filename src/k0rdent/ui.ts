/**
 * The objects that expose the k0rdent UI outside the cluster (`expose-ui`), and pure readers of
 * what kubectl reports about the UI. Pure: builds and parses objects, applies nothing.
 *
 * - A NodePort Service of its own, `k0rdent-ui-nodeport`, with the selector and target port read
 *   from the chart's UI Service (`<release>-k0rdent-ui`, port 80; {@link uiServiceInfo}): a
 *   patch of the chart's Service to `type: NodePort` would be reverted by the next
 *   `helm upgrade`. Kubernetes allocates the node port unless one is given, and a server-side
 *   re-apply keeps it.
 * - An Ingress `k0rdent-ui` (class `nginx`, regex path `/k0rdent-ui(/|$)(.*)`, annotation
 *   `nginx.ingress.kubernetes.io/rewrite-target: /$2`, so `/k0rdent-ui/x` reaches the UI as `/x`;
 *   backend the chart's Service on port 80).
 *   k0s ships no ingress controller, so the Ingress only answers once one is installed; the
 *   NodePort URL works without one.
 * - The UI's basic-auth password is the `BASIC_AUTH_PASSWORD` env of the `k0rdent-ui`
 *   container ({@link uiPassword}); the caller prints it only with `--show-password`.
 * Assumptions (not documented upstream): the chart's UI Service is `<release>-k0rdent-ui`, the
 * UI user is `admin`.
 */
import { stringify } from "yaml";
import { getPath, isPlainObject } from "../config/merge.ts";
import { UserError } from "../errors.ts";

/** Name of our NodePort Service. */
export const UI_NODEPORT_SERVICE = "k0rdent-ui-nodeport";
/** Name of our Ingress. */
export const UI_INGRESS = "k0rdent-ui";
/** Path of the UI behind the Ingress. */
export const UI_INGRESS_PATH = "/k0rdent-ui";
/** The UI's basic-auth user (assumed: not documented upstream). */
export const UI_USER = "admin";

/** The chart's UI Service for a helm release, e.g. `kcm-k0rdent-ui`. */
export function uiServiceName(releaseName: string): string {
  return `${releaseName}-k0rdent-ui`;
}

/** What the objects need to know about the chart's UI Service. */
export interface UiServiceInfo {
  name: string;
  namespace: string;
  selector: Record<string, string>;
  /** The Service port (the Ingress backend). */
  port: number;
  /** The pods' port (our NodePort Service's target). */
  targetPort: number | string;
}

/** Reads {@link UiServiceInfo} from `kubectl get service <name> -o json` output (parsed). */
export function uiServiceInfo(service: unknown): UiServiceInfo {
  const name = String(getPath(service, ["metadata", "name"]) ?? "");
  const ports = records(getPath(service, ["spec", "ports"]));
  const rawSelector = getPath(service, ["spec", "selector"]);
  const selector = isPlainObject(rawSelector) ? rawSelector : {};
  if (!name || ports.length === 0 || Object.keys(selector).length === 0) {
    throw new UserError(
      `Cannot expose the k0rdent UI: service "${name || "?"}" has no ports or no selector`,
    );
  }
  const port = ports.find((p) => p.port === 80) ?? ports[0];
  return {
    name,
    namespace: String(getPath(service, ["metadata", "namespace"]) ?? ""),
    selector: Object.fromEntries(Object.entries(selector).map(([k, v]) => [k, String(v)])),
    port: Number(port.port),
    targetPort: (port.targetPort as number | string | undefined) ?? Number(port.port),
  };
}

/** Options of {@link uiExposeObjects}. */
export interface UiExposeOptions {
  /** A fixed node port (30000-32767); undefined lets Kubernetes pick. */
  nodePort?: number;
  /** The Ingress class; default `nginx`. */
  ingressClass?: string;
}

/** Our NodePort Service and the Ingress, in apply order. */
export function uiExposeObjects(
  info: UiServiceInfo,
  options: UiExposeOptions = {},
): Record<string, unknown>[] {
  const labels = { "app.kubernetes.io/managed-by": "k0rdentd" };
  const service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: UI_NODEPORT_SERVICE, namespace: info.namespace, labels },
    spec: {
      type: "NodePort",
      selector: info.selector,
      ports: [{
        name: "http",
        protocol: "TCP",
        port: info.port,
        targetPort: info.targetPort,
        ...(options.nodePort ? { nodePort: options.nodePort } : {}),
      }],
    },
  };
  const ingress = {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: {
      name: UI_INGRESS,
      namespace: info.namespace,
      labels,
      // ingress-nginx rewrites the whole URI to the target whenever the path matches
      // (`rewrite "(?i)<path>" <target> break;`, kubernetes/ingress-nginx controller-v1.14.5
      // internal/ingress/controller/template/template.go buildProxyPass): a bare "/" would send
      // every request below the path to the UI's "/". The capture group keeps the rest.
      annotations: {
        "nginx.ingress.kubernetes.io/rewrite-target": "/$2",
        "nginx.ingress.kubernetes.io/use-regex": "true",
      },
    },
    spec: {
      ingressClassName: options.ingressClass ?? "nginx",
      rules: [{
        http: {
          paths: [{
            // A regex path needs ImplementationSpecific: ingress-nginx refuses it as Prefix
            // (strict-validate-path-type, default true; internal/ingress/inspector/rules.go).
            path: `${UI_INGRESS_PATH}(/|$)(.*)`,
            pathType: "ImplementationSpecific",
            backend: { service: { name: info.name, port: { number: info.port } } },
          }],
        },
      }],
    },
  };
  return [service, ingress];
}

/** The objects as YAML for `kubectl apply --server-side -f -`. */
export function renderUiExpose(info: UiServiceInfo, options: UiExposeOptions = {}): string {
  return uiExposeObjects(info, options).map((o) => stringify(o, { lineWidth: 0 })).join("---\n");
}

/** The node port that Kubernetes gave our Service (`kubectl get service -o json`), if any. */
export function allocatedNodePort(service: unknown): number | undefined {
  return records(getPath(service, ["spec", "ports"]))
    .map((p) => Number(p.nodePort))
    .find((n) => Number.isInteger(n) && n > 0);
}

/** URLs of the UI for the node's addresses: NodePort ones first (they need no controller). */
export function uiUrls(hosts: readonly string[], nodePort: number | undefined): string[] {
  const bracket = (h: string) => (h.includes(":") && !h.startsWith("[") ? `[${h}]` : h);
  const nodePortUrls = nodePort ? hosts.map((h) => `http://${bracket(h)}:${nodePort}`) : [];
  // With the trailing slash: a browser resolves the UI's relative links below the path.
  return [...nodePortUrls, ...hosts.map((h) => `http://${bracket(h)}${UI_INGRESS_PATH}/`)];
}

/**
 * The basic-auth password from `kubectl get deployment <release>-k0rdent-ui -o json`: the
 * `BASIC_AUTH_PASSWORD` env value of the `k0rdent-ui` container (or of the only container).
 * Undefined when it is absent or comes from a reference (`valueFrom`).
 */
export function uiPassword(deployment: unknown): string | undefined {
  const containers = records(getPath(deployment, ["spec", "template", "spec", "containers"]));
  const container = containers.find((c) => c.name === "k0rdent-ui") ??
    (containers.length === 1 ? containers[0] : undefined);
  if (!container) return undefined;
  const env = records(container.env);
  const value = env.find((e) => e.name === "BASIC_AUTH_PASSWORD")?.value;
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** The plain-object items of `value` when it is an array, else none. */
function records(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter(isPlainObject) : [];
}
