/** The commented default configuration written by `config init`. */
import { HOST } from "../host/paths.ts";

/** A commented YAML file holding the defaults; valid as it is. */
export const CONFIG_TEMPLATE = `# k0rdentd configuration (${HOST.configFile})
# Precedence: built-in defaults < this file < K0RDENTD_* environment < flags.
# String values may use \${VAR} or \${VAR:-default} to read the environment,
# so secrets can stay out of this file.

# error | warn | info | debug  (env K0RDENTD_LOG_LEVEL)
logLevel: info
# text | json: JSON lines on stderr for journald and log shippers  (env K0RDENTD_LOG_FORMAT)
logFormat: text

k0s:
  # env K0RDENTD_K0S_VERSION
  version: v1.32.8+k0s.0
  api:
    address: ""        # an IP of this host (not a host name); empty: k0s picks the primary one
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
  # Chart version, no leading "v" (env K0RDENTD_K0RDENT_VERSION). "" picks it: online 1.2.0;
  # air-gapped the bundle's (airgap.bundlePath) or the registry's highest chart version
  version: ""
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
  # Where child clusters download k0s (controller.globalK0sURL); "" = the registry's files
  # listener: http://<advertiseAddress host>:<registry.filesPort>/<registry.prefix>
  k0sURL: ""
  registry:
    address: localhost:5000      # as this host reaches it; env K0RDENTD_REGISTRY_ADDRESS
    # Replicas (registry --sync-from), tried in order: address: [10.0.0.5:5000, 10.0.0.6:5000]
    # As pods and other nodes reach it; "" = address, or this host's IP when address is loopback
    advertiseAddress: ""         # env K0RDENTD_REGISTRY_ADVERTISE_ADDRESS
    prefix: k0rdent-enterprise
    insecure: false              # true: plain HTTP (k0rdent Enterprise does not support it)
    caFile: ""                   # "" = registry.storage/tls/ca.crt when it exists, else system roots
    # Pull credentials of an existing registry (Harbor, Distribution); keep the password out of
    # this file: \${REGISTRY_PASSWORD} or env K0RDENTD_REGISTRY_PASSWORD / --registry-password-stdin
    username: ""                 # env K0RDENTD_REGISTRY_USERNAME
    password: ""
    mirrors: [registry.mirantis.com, quay.io, registry.k8s.io, docker.io, ghcr.io]

join:
  mode: ""            # controller | worker
  server: ""
  token: ""           # prefer tokenFile, or \${K0S_JOIN_TOKEN}
  tokenFile: ""
  registryReplica: false  # air-gap controller: run a registry replica here (registry --sync-from)

registry:
  host: 0.0.0.0                      # env K0RDENTD_REGISTRY_HOST
  port: 5000                         # env K0RDENTD_REGISTRY_PORT
  filesPort: 5080                    # k0s binaries over plain HTTP; 0: off (K0RDENTD_REGISTRY_FILES_PORT)
  debugAddress: 127.0.0.1:5001       # /metrics, /healthz, /readyz; "": off
  accessLog: true                    # one log line per request
  storage: ${HOST.registryStorage}  # env K0RDENTD_REGISTRY_STORAGE
  bundlePath: ""
  prefix: k0rdent-enterprise
  verifySignature: true              # env K0RDENTD_VERIFY_SIGNATURE
  cosignKey: ""                      # local path; env K0RDENTD_COSIGN_KEY
  verifier: native                   # native (in the load's one pass) or cosign (verify-blob)
  # Replicate every repository and tag of other registries and keep following them
  syncFrom: []                       # e.g. [https://10.0.0.5:5000]
  syncFilesFrom: []                  # their k0s binaries; [] = each source's host, this filesPort and prefix
  syncInterval: 30s                  # pause between two passes of one source
  syncCaFile: ""                     # "" = system roots + this registry's --tls auto CA
  syncUsername: ""                   # basic auth on the sources; password from syncPasswordFile
  syncPasswordFile: ""
  tls:
    mode: auto                       # auto (own CA under storage/tls) | files | off (plain HTTP)
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
