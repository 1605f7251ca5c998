/** The commented default configuration written by `config init`. */

/** A commented YAML file holding the defaults; valid as it is. */
export const CONFIG_TEMPLATE = `# k0rdentd configuration (${"/etc/k0rdentd/k0rdentd.yaml"})
# Precedence: built-in defaults < this file < K0RDENTD_* environment < flags.
# String values may use \${VAR} or \${VAR:-default} to read the environment,
# so secrets can stay out of this file.

# error | warn | info | debug  (env K0RDENTD_LOG_LEVEL)
logLevel: info

k0s:
  # env K0RDENTD_K0S_VERSION
  version: v1.32.8+k0s.0
  api:
    address: ""        # empty: the host's primary address
    port: 6443
  network:
    provider: kuberouter   # kuberouter | calico | custom
    podCIDR: 10.244.0.0/16
    serviceCIDR: 10.96.0.0/12
  storage:
    type: etcd             # etcd | kine
  # Raw ClusterConfig fragment merged over the generated one:
  # config: |
  #   spec:
  #     telemetry:
  #       enabled: false

k0rdent:
  # Chart version, no leading "v" (env K0RDENTD_K0RDENT_VERSION)
  version: 1.2.0
  helm:
    chart: oci://ghcr.io/k0rdent/kcm/charts/kcm
    releaseName: kcm
    namespace: kcm-system
    values: {}             # merged over the generated values; yours win
  credentials:
    aws: []
    # - name: aws-main
    #   region: us-east-1
    #   accessKeyID: \${AWS_ACCESS_KEY_ID}
    #   secretAccessKey: \${AWS_SECRET_ACCESS_KEY}
    azure: []
    # - name: azure-main
    #   subscriptionID: ...
    #   tenantID: ...
    #   clientID: ...
    #   clientSecret: \${AZURE_CLIENT_SECRET}
    openstack: []
    vsphere: []
    gcp: []

airgap:
  # Bundle (.tar.gz, .tar or directory)  (env K0RDENTD_AIRGAP_BUNDLE_PATH)
  bundlePath: ""
  registry:
    address: localhost:5000      # env K0RDENTD_REGISTRY_ADDRESS
    prefix: k0rdent-enterprise
    insecure: true               # plain HTTP; false with caFile for TLS
    caFile: ""
    mirrors: [registry.mirantis.com, quay.io, registry.k8s.io, docker.io, ghcr.io]

join:
  mode: ""            # controller | worker
  server: ""
  token: ""           # prefer tokenFile, or \${K0S_JOIN_TOKEN}
  tokenFile: ""

registry:
  host: 0.0.0.0                      # env K0RDENTD_REGISTRY_HOST
  port: 5000                         # env K0RDENTD_REGISTRY_PORT
  storage: /var/lib/k0rdentd/registry  # env K0RDENTD_REGISTRY_STORAGE
  bundlePath: ""
  prefix: k0rdent-enterprise
  verifySignature: true              # env K0RDENTD_VERIFY_SIGNATURE
  cosignKey: ""                      # local path; env K0RDENT_COSIGN_KEY
  verifier: native                   # native (in the load's one pass) or cosign (verify-blob)
  tls:
    mode: "off"                      # off | files | auto
    cert: ""
    key: ""
    sans: []
  auth:
    htpasswd: ""                     # bcrypt htpasswd file enables basic auth
    authPulls: false
    readOnly: false
  limits:
    maxConnections: 1000             # fewer when the open-file limit allows fewer
    headerTimeout: 20s               # close connections that send no request header in time
    idleTimeout: 2m                  # close connections idle this long after a request
    maxUploads: 1000                 # upload sessions open at once, all clients
    maxUploadsPerClient: 100         # upload sessions open at once from one address
    uploadExpiry: 1h                 # remove upload sessions untouched this long
    maxLoginFailures: 10             # failed logins per client address per minute (htpasswd)
`;
