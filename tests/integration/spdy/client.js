#!/usr/bin/env node
'use strict'
// Independent SPDY/3.1 client for the kubelet streaming protocols, used by the
// integration tests as a subprocess.  It speaks what kubectl/crictl speak
// (client-go tools/remotecommand and tools/portforward over moby/spdystream),
// but through a different SPDY implementation (npm spdy-transport), so that
// the server is not only tested against the implementation it was modelled on.
//
//   node client.js exec URL [--stdin-data S | --stdin-file PATH] [--no-stdin] [--tty]
//        [--no-stdout] [--no-stderr] [--resize COLSxROWS]... [--protocol P]...
//        [--stdin-delay-ms N] [--hold-stdin-open-ms N] [--abort-after-ms N]
//   node client.js portforward URL --port N [--send-data S] [--connections K] [--listen-port L]
//
// Common extras: --method GET|POST (default POST, as kubectl), --timeout-ms N
// (default 30000), --close-wait-ms N (default 500: after all output streams
// ended, how long to wait for the server to close the connection before we
// tear it down ourselves), --no-wait-reply (create all streams without
// waiting for each SYN_REPLY; client-go waits), --no-flow-control (ignore
// the peer's SPDY send windows, as spdystream does).
//
// exec and portforward print ONE JSON object on stdout and exit 0 whatever
// the server did (exit 1 only if the TCP connection could not be made, 2 on
// bad usage).  With --listen-port, portforward prints {"listening":L} and runs
// until SIGTERM (exit 0) or until the server drops the connection (exit 1).
//
// Flow control: spdy-transport honours SPDY/3.1 flow control strictly.  It
// sends at most 64 KiB per stream AND 64 KiB per session (stream 0) until the
// server sends WINDOW_UPDATE frames for both (a FIN, i.e. stdin EOF, waits too).
// spdystream, and so the kubelet, never sends any; against such a server use
// --no-flow-control, or see "timed_out" and "stdin_bytes_written" stop at 65536.

const net = require('net')
const fs = require('fs')
const transport = require('spdy-transport')

const EXEC_PROTOCOLS = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io']
const PORTFORWARD_PROTOCOL = 'portforward.k8s.io'
const STDIN_CHUNK = 16 * 1024 // stdin is written in pieces so progress is observable

// ---------------------------------------------------------------- arguments

function usage (msg) {
  process.stderr.write(`client.js: ${msg}\n` +
    'usage: node client.js exec URL [options] | node client.js portforward URL --port N [options]\n')
  process.exit(2)
}

function parseArgs (argv) {
  const [mode, url, ...rest] = argv
  if (mode !== 'exec' && mode !== 'portforward') usage('mode must be exec or portforward')
  if (!url) usage('URL missing')
  const o = {
    mode,
    url,
    method: 'POST',
    protocols: [],
    stdin: true,
    stdinData: Buffer.alloc(0),
    stdout: true,
    stderr: true,
    tty: false,
    resize: [],
    stdinDelayMs: 0,
    holdStdinOpenMs: 0,
    abortAfterMs: null,
    timeoutMs: 30000,
    closeWaitMs: 500,
    waitReply: true,
    flowControl: true,
    port: null,
    sendData: Buffer.alloc(0),
    connections: 1,
    listenPort: null
  }
  const int = (a, v) => {
    if (!/^\d+$/.test(v || '')) usage(`${a} needs a non-negative integer`)
    return parseInt(v, 10)
  }
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]
    const val = () => (i + 1 < rest.length ? rest[++i] : usage(`${a} needs a value`))
    switch (a) {
      case '--stdin-data': o.stdinData = Buffer.from(val(), 'utf8'); break
      case '--stdin-file': o.stdinData = fs.readFileSync(val()); break
      case '--no-stdin': o.stdin = false; break
      case '--tty': o.tty = true; break
      case '--no-stdout': o.stdout = false; break
      case '--no-stderr': o.stderr = false; break
      case '--resize': {
        const m = /^(\d+)x(\d+)$/.exec(val())
        if (!m) usage('--resize wants COLSxROWS')
        o.resize.push({ Width: parseInt(m[1], 10), Height: parseInt(m[2], 10) })
        break
      }
      case '--protocol': o.protocols.push(val()); break
      case '--stdin-delay-ms': o.stdinDelayMs = int(a, val()); break
      case '--hold-stdin-open-ms': o.holdStdinOpenMs = int(a, val()); break
      case '--abort-after-ms': o.abortAfterMs = int(a, val()); break
      case '--timeout-ms': o.timeoutMs = int(a, val()); break
      case '--close-wait-ms': o.closeWaitMs = int(a, val()); break
      case '--method': o.method = val().toUpperCase(); break
      case '--no-wait-reply': o.waitReply = false; break
      case '--no-flow-control': o.flowControl = false; break
      case '--port': o.port = int(a, val()); break
      case '--send-data': o.sendData = Buffer.from(val(), 'utf8'); break
      case '--connections': o.connections = int(a, val()); break
      case '--listen-port': o.listenPort = int(a, val()); break
      default: usage(`unknown option ${a}`)
    }
  }
  if (o.protocols.length === 0) {
    o.protocols = mode === 'exec' ? EXEC_PROTOCOLS : [PORTFORWARD_PROTOCOL]
  }
  if (mode === 'portforward' && o.port === null) usage('portforward needs --port')
  return o
}

// ------------------------------------------------------------------ output

let printed = false
let flushed = Promise.resolve()
function printResult (obj) {
  if (printed) return
  printed = true
  // A large result must reach the pipe whole before the process exits.
  flushed = new Promise(resolve => process.stdout.write(JSON.stringify(obj) + '\n', resolve))
}

function exitSoon (code) {
  // Give the GOAWAY/RST frames of the teardown a moment to leave, then go.
  setTimeout(() => flushed.then(() => process.exit(code)), 100)
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

// --------------------------------------------------------- HTTP/1.1 upgrade

// Sends the upgrade request and reads the response head.  Resolves with the
// socket (paused, nothing consumed beyond the head), the status, the headers
// (lower-cased names) and any bytes that arrived after the head.
function upgrade (o) {
  return new Promise((resolve, reject) => {
    const url = new URL(o.url)
    if (url.protocol !== 'http:') return reject(new Error('only http:// URLs are supported'))
    const socket = net.connect({ host: url.hostname, port: url.port || 80 })
    socket.setNoDelay(true)
    let buf = Buffer.alloc(0)
    const fail = err => reject(err)
    const early = () => reject(new Error('connection closed before the HTTP response head'))
    socket.once('error', fail)
    socket.once('end', early)
    socket.once('connect', () => {
      const lines = [
        `${o.method} ${url.pathname}${url.search} HTTP/1.1`,
        `Host: ${url.host}`,
        'Connection: Upgrade',
        'Upgrade: SPDY/3.1',
        // One header line per protocol, most preferred first (client-go does the same).
        ...o.protocols.map(p => `X-Stream-Protocol-Version: ${p}`)
      ]
      if (o.method !== 'GET') lines.push('Content-Length: 0')
      socket.write(lines.join('\r\n') + '\r\n\r\n')
    })
    const onData = chunk => {
      buf = Buffer.concat([buf, chunk])
      const end = buf.indexOf('\r\n\r\n')
      if (end < 0) return
      // Stop reading HTTP: what follows the head (if the server was quick) is
      // already SPDY and must go to the SPDY parser, see unshift() below.
      socket.removeListener('data', onData)
      socket.pause()
      socket.removeListener('error', fail)
      socket.removeListener('end', early)
      const head = buf.subarray(0, end).toString('latin1').split('\r\n')
      const headers = {}
      for (const line of head.slice(1)) {
        const i = line.indexOf(':')
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim()
      }
      const status = parseInt((head[0].split(' ')[1] || ''), 10)
      resolve({ socket, status, headers, rest: buf.subarray(end + 4) })
    }
    socket.on('data', onData)
  })
}

// Reads the body of a non-101 response (Content-Length, or until close, or 2 s).
function readBody (up) {
  return new Promise(resolve => {
    const want = up.headers['content-length'] !== undefined ? parseInt(up.headers['content-length'], 10) : Infinity
    let body = up.rest
    const done = () => { clearTimeout(t); up.socket.destroy(); resolve(body.toString('utf8')) }
    const t = setTimeout(done, 2000)
    if (body.length >= want) return done()
    up.socket.on('data', c => { body = Buffer.concat([body, c]); if (body.length >= want) done() })
    up.socket.on('end', done)
    up.socket.on('error', done)
    up.socket.resume()
  })
}

// ------------------------------------------------------------ SPDY session

function startSpdy (up, o) {
  const { socket } = up
  if (up.rest.length) socket.unshift(up.rest)
  const conn = transport.connection.create(socket, { protocol: 'spdy', isServer: false })
  const info = {
    window_updates: { session: 0, stream: 0 },
    settings_received: [],
    goaway: null,
    rst: [], // RST_STREAMs received: {id, code}
    errors: [],
    server_closed: false
  }
  conn.on('frame', f => {
    if (f.type === 'WINDOW_UPDATE') info.window_updates[f.id === 0 ? 'session' : 'stream']++
    else if (f.type === 'SETTINGS') info.settings_received.push(f.settings)
    else if (f.type === 'GOAWAY') info.goaway = f.code || 'OK'
    else if (f.type === 'RST') info.rst.push({ id: f.id, code: f.code })
    else if (f.type === 'HEADERS' && f.id % 2 === 1 && f.headers[':status'] === undefined) {
      // QUIRK: spdystream (hence the kubelet) answers SYN_STREAM with a SYN_REPLY
      // that has an EMPTY header block.  spdy-transport requires ':status' in a
      // reply and would answer with RST_STREAM(PROTOCOL_ERROR).  The 'frame'
      // event fires before the stream sees the frame, so patch a status in:
      // for this protocol the reply only means "stream accepted".
      f.headers[':status'] = '200'
    }
  })
  conn.on('error', e => info.errors.push(`connection: ${e.message}`))
  socket.on('error', () => {}) // reported through conn 'error'
  socket.once('close', () => { info.server_closed = !info.tearingDown })
  conn.start(3.1) // no ALPN/NPN here: tell the parser/framer the version up front

  if (!o.flowControl) {
    // Behave like spdystream, which has no flow control at all: make our send
    // windows (session and the template cloned for every new stream) huge.
    const st = conn._spdyState
    st.window.send.current = st.window.send.max = Number.MAX_SAFE_INTEGER / 4
    st.window.send.limit = Infinity
    st.streamWindow.send.max = Number.MAX_SAFE_INTEGER / 4
    st.streamWindow.send.limit = Infinity
  }
  return { conn, socket, info }
}

// Opens one stream (SYN_STREAM carrying the given headers; spdy-transport adds
// :method/:path/:version/:scheme/:host, which kubelet-style servers ignore).
// Everything the server sends on it is collected from the start.  Returns
// {stream, chunks, replied (promise), done (promise: readable side finished)}.
function openStream (session, name, headers) {
  // method must not be GET: spdy-transport sends GET requests with FIN set,
  // i.e. half-closes our side immediately.  client-go never does that.
  const stream = session.conn.request({ method: 'POST', path: '/', headers })
  const s = { name, stream, chunks: [] }
  stream.on('data', c => s.chunks.push(c))
  stream.on('error', e => session.info.errors.push(`${name}: ${e.message}`))
  s.done = new Promise(resolve => {
    stream.once('end', resolve)
    // 'close' with an error: RST (either direction) or connection loss, no
    // 'end' will follow.  A plain 'close' (both directions finished) can come
    // while data is still buffered; the 'end' after it is the one to wait for.
    stream.once('close', err => { if (err) resolve() })
  })
  s.replied = new Promise((resolve, reject) => {
    stream.once('response', () => resolve(s))
    stream.once('close', () => reject(new Error(`${name} stream closed before SYN_REPLY`)))
  })
  s.replied.catch(() => {}) // reported by whoever awaits it
  return s
}

const collected = s => (s ? Buffer.concat(s.chunks) : Buffer.alloc(0))

// Tear down like client-go's connection.Close(): reset every stream still
// open, GOAWAY, close the TCP connection.
function teardown (session) {
  session.info.tearingDown = true
  const st = session.conn._spdyState
  for (const id of Object.keys(st.stream.map)) st.stream.map[id].abort()
  try { session.conn.end() } catch (e) {}
  setTimeout(() => session.socket.destroy(), 50)
}

// ----------------------------------------------------------------------- exec

async function runExec (o) {
  const up = await upgrade(o)
  if (up.status !== 101) {
    printResult({ http_status: up.status, protocol: up.headers['x-stream-protocol-version'] || '', body: await readBody(up) })
    return exitSoon(0)
  }
  const protocol = up.headers['x-stream-protocol-version'] || ''
  const session = startSpdy(up, o)
  const result = {
    http_status: 101,
    protocol,
    stdout: '',
    stdout_b64: '',
    stderr: '',
    stderr_b64: '',
    error: '',
    timed_out: false,
    aborted: false,
    stdin_bytes_written: 0,
    streams: [] // [{name, id}] in creation order
  }
  const streams = {}
  const finish = extra => {
    Object.assign(result, extra)
    result.stdout_b64 = collected(streams.stdout).toString('base64')
    result.stdout = collected(streams.stdout).toString('utf8')
    result.stderr_b64 = collected(streams.stderr).toString('base64')
    result.stderr = collected(streams.stderr).toString('utf8')
    result.error = collected(streams.error).toString('utf8')
    for (const k of ['window_updates', 'settings_received', 'goaway', 'rst', 'errors', 'server_closed']) result[k] = session.info[k]
    printResult(result)
  }
  setTimeout(() => { finish({ timed_out: true }); teardown(session); exitSoon(0) }, o.timeoutMs).unref()
  if (o.abortAfterMs !== null) {
    setTimeout(() => { finish({ aborted: true }); session.socket.destroy(); exitSoon(0) }, o.abortAfterMs)
  }

  // Stream set and order exactly as client-go v2/v3/v4 createStreams(); v1
  // ("channel.k8s.io", also used when the server negotiated nothing) creates
  // the same four, it just has no resize stream.
  const hasResize = protocol === 'v3.channel.k8s.io' || protocol === 'v4.channel.k8s.io'
  const kinds = ['error']
  if (o.stdin) kinds.push('stdin')
  if (o.stdout) kinds.push('stdout')
  if (o.stderr && !o.tty) kinds.push('stderr')
  if (o.tty && hasResize) kinds.push('resize')
  try {
    for (const kind of kinds) {
      // client-go waits for each SYN_REPLY before sending the next SYN_STREAM.
      streams[kind] = openStream(session, kind, { streamType: kind })
      result.streams.push({ name: kind, id: streams[kind].stream.id })
      if (o.waitReply) await streams[kind].replied
    }
    await Promise.all(kinds.map(k => streams[k].replied))
  } catch (e) { // the server refused a stream or dropped the connection
    session.info.errors.push(e.message)
    finish({})
    teardown(session)
    return exitSoon(0)
  }

  // Resizes: client-go json.Encoder => one {"Width":C,"Height":R}\n per event.
  for (const size of o.resize) {
    if (streams.resize) streams.resize.stream.write(JSON.stringify(size) + '\n')
  }
  if (streams.resize) streams.resize.stream.resume() // server never writes; drain anyway
  if (streams.stdin) {
    const stdin = streams.stdin.stream
    stdin.resume()
    // client-go closes remote stdin when the server closes it (once.Do).
    stdin.once('end', () => { if (!stdin.writableEnded) stdin.end() })
    ;(async () => {
      if (o.stdinDelayMs) await sleep(o.stdinDelayMs)
      for (let off = 0; off < o.stdinData.length; off += STDIN_CHUNK) {
        const piece = o.stdinData.subarray(off, off + STDIN_CHUNK)
        // The callback runs once the DATA frames are queued, which is after
        // the peer's flow-control window allowed it (see --no-flow-control).
        await new Promise((resolve, reject) => stdin.write(piece, e => (e ? reject(e) : resolve())))
        result.stdin_bytes_written += piece.length
      }
      if (o.holdStdinOpenMs) await sleep(o.holdStdinOpenMs)
      if (!stdin.writableEnded) stdin.end() // DATA frame with FLAG_FIN: stdin EOF
    })().catch(e => session.info.errors.push(`stdin write: ${e.message}`))
  }

  // Like client-go: wait for stdout and stderr, then for the error stream.
  await Promise.all(['stdout', 'stderr', 'error'].filter(k => streams[k]).map(k => streams[k].done))
  // Give the server a chance to close the connection itself (the kubelet does).
  if (!session.socket.destroyed) {
    await Promise.race([new Promise(resolve => session.socket.once('close', resolve)), sleep(o.closeWaitMs)])
  }
  finish({})
  teardown(session)
  exitSoon(0)
}

// ---------------------------------------------------------------- portforward

async function runPortForward (o) {
  const up = await upgrade(o)
  if (up.status !== 101) {
    printResult({ http_status: up.status, protocol: up.headers['x-stream-protocol-version'] || '', body: await readBody(up) })
    return exitSoon(0)
  }
  const protocol = up.headers['x-stream-protocol-version'] || ''
  const session = startSpdy(up, o)
  let nextRequestId = 0

  // One forwarded connection = an error stream then a data stream, both
  // carrying streamType, port and requestID (client-go handleConnection()).
  async function openPair () {
    const id = nextRequestId++
    const headers = type => ({ streamType: type, port: String(o.port), requestID: String(id) })
    const err = openStream(session, `error#${id}`, headers('error'))
    if (o.waitReply) await err.replied
    err.stream.end() // client-go: "we're not writing to this stream" -> FIN right away
    const data = openStream(session, `data#${id}`, headers('data'))
    await Promise.all([err.replied, data.replied])
    return { id, err, data }
  }

  if (o.listenPort !== null) return listen(o, session, openPair)

  const result = { http_status: 101, protocol, connections: [], timed_out: false }
  const pairs = []
  const finish = extra => {
    Object.assign(result, extra)
    result.connections = pairs.map(p => ({
      request_id: p.id,
      data: collected(p.data).toString('utf8'),
      data_b64: collected(p.data).toString('base64'),
      error: collected(p.err).toString('utf8')
    }))
    for (const k of ['window_updates', 'goaway', 'rst', 'errors', 'server_closed']) result[k] = session.info[k]
    printResult(result)
  }
  setTimeout(() => { finish({ timed_out: true }); teardown(session); exitSoon(0) }, o.timeoutMs).unref()

  const one = async () => {
    const p = await openPair().catch(e => { session.info.errors.push(e.message) })
    if (!p) return
    pairs.push(p)
    if (o.sendData.length) p.data.stream.write(o.sendData)
    p.data.stream.end() // half-close: the pod side sees EOF
    await Promise.all([p.data.done, p.err.done])
  }
  await Promise.all(Array.from({ length: o.connections }, one))
  pairs.sort((a, b) => a.id - b.id)
  finish({})
  teardown(session)
  exitSoon(0)
}

// kubectl port-forward: every local TCP connection gets its own stream pair.
function listen (o, session, openPair) {
  // allowHalfOpen: the local peer's EOF must only half-close (FIN on the data
  // stream); by default Node would also end our sending side and drop the
  // server's remaining data.
  const server = net.createServer({ allowHalfOpen: true }, local => {
    local.on('error', () => {})
    openPair().then(({ id, err, data }) => {
      err.stream.on('end', () => {
        const msg = collected(err).toString('utf8')
        if (msg) {
          process.stderr.write(`portforward request ${id}: ${msg}\n`)
          local.destroy()
        }
      })
      local.pipe(data.stream) // local EOF -> FIN on the data stream
      data.stream.pipe(local) // server FIN -> local EOF
      local.once('close', () => { if (!data.stream.writableEnded) data.stream.abort() })
    }).catch(e => { process.stderr.write(`portforward: ${e.message}\n`); local.destroy() })
  })
  server.listen(o.listenPort, '127.0.0.1', () => {
    printResult({ listening: server.address().port })
  })
  session.socket.once('close', () => {
    if (session.info.tearingDown) return
    process.stderr.write('portforward: lost connection to the server\n')
    process.exit(1)
  })
  process.once('SIGTERM', () => { server.close(); teardown(session); exitSoon(0) })
  process.once('SIGINT', () => { server.close(); teardown(session); exitSoon(0) })
}

// ----------------------------------------------------------------------- main

const opts = parseArgs(process.argv.slice(2))
;(opts.mode === 'exec' ? runExec : runPortForward)(opts).catch(e => {
  printResult({ connect_error: e.message })
  process.exit(1)
})
