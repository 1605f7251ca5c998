/** HEAD answers without a body, for the handlers that answer HEAD themselves (not through Hono). */

/**
 * `res` without its body (status and headers kept), as Hono answers the HEADs it routes. The
 * runtime drops a HEAD answer's body over HTTP/1.1 but sends it over HTTP/2, where DATA on a
 * HEAD stream is malformed (RFC 9113 section 8.1.1): nghttp2 clients (curl) fail the request
 * and Go's h2 transport resets the stream (golang.org/x/net `http2/transport.go` processData:
 * "protocol error: received DATA on a HEAD request").
 */
export function headless(res: Response): Response {
  return res.body === null ? res : new Response(null, res);
}
