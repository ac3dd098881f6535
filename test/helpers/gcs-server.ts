import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CRC32C } from '@google-cloud/storage';

/**
 * A small in-process stand-in for the GCS JSON API: just the subset @google-cloud/storage uses for
 * our ObjectStore (bucket get; object get, media download, list with pageToken, delete, rewrite;
 * simple, multipart and resumable uploads). Objects live in memory; an upload request that is aborted
 * never publishes anything, like the real service.
 */
export interface GcsTestServer {
  endpoint: string;
  close(): Promise<void>;
}

interface StoredObject {
  data: Buffer;
  contentType: string;
  generation: number;
  updated: Date;
  md5Hash: string;
  crc32c: string;
}

interface Session {
  bucket: string;
  name: string;
  contentType: string;
  chunks: Buffer[];
  received: number;
}

export async function startGcsServer(buckets: string[] = ['test-bucket']): Promise<GcsTestServer> {
  const store = new Map(buckets.map((b) => [b, new Map<string, StoredObject>()]));
  const sessions = new Map<string, Session>();
  let generation = 1;

  const commit = (bucket: string, name: string, contentType: string, data: Buffer) => {
    const crc = new CRC32C();
    crc.update(data);
    const object: StoredObject = {
      data,
      contentType,
      generation: generation++,
      updated: new Date(),
      md5Hash: createHash('md5').update(data).digest('base64'),
      crc32c: crc.toString(),
    };
    store.get(bucket)!.set(name, object);
    return resource(bucket, name, object);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: Error) => {
      // An aborted upload lands here: the client is gone, so there is nobody to answer.
      if (!res.headersSent && !res.destroyed) sendError(res, 500, e.message);
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url!, 'http://localhost');
    let path = url.pathname;
    const upload = path.startsWith('/upload/');
    if (upload) path = path.slice('/upload'.length);
    // The client drops '/storage/v1' when STORAGE_EMULATOR_HOST is set; accept both forms.
    if (path.startsWith('/storage/v1/')) path = path.slice('/storage/v1'.length);
    const rewrite = /^\/b\/([^/]+)\/o\/([^/]+)\/rewriteTo\/b\/([^/]+)\/o\/([^/]+)$/.exec(path);
    if (rewrite && req.method === 'POST')
      return handleRewrite(req, res, rewrite.slice(1).map(decodeURIComponent));
    const match = /^\/b\/([^/]+)(\/o(?:\/(.+))?)?$/.exec(path);
    if (!match) return sendError(res, 404, `no route for ${req.method} ${url.pathname}`);
    const bucket = decodeURIComponent(match[1]);
    const objects = store.get(bucket);
    if (!objects) return sendError(res, 404, 'The specified bucket does not exist.');
    const name = match[3] === undefined ? undefined : decodeURIComponent(match[3]);

    if (!match[2]) return sendJson(res, 200, { kind: 'storage#bucket', id: bucket, name: bucket });
    if (upload) return handleUpload(req, res, url, bucket);

    if (name === undefined && req.method === 'GET') {
      const prefix = url.searchParams.get('prefix') ?? '';
      const max = Number(url.searchParams.get('maxResults') ?? 1000);
      const after = url.searchParams.get('pageToken') ?? '';
      const names = [...objects.keys()].filter((n) => n.startsWith(prefix) && n > after).sort();
      const page = names.slice(0, max);
      return sendJson(res, 200, {
        kind: 'storage#objects',
        items: page.map((n) => resource(bucket, n, objects.get(n)!)),
        ...(names.length > max ? { nextPageToken: page[page.length - 1] } : {}),
      });
    }
    const object = name === undefined ? undefined : objects.get(name);
    if (name === undefined || !object) return sendError(res, 404, `No such object: ${bucket}/${name}`);
    if (req.method === 'DELETE') {
      objects.delete(name);
      res.writeHead(204).end();
    } else if (req.method === 'GET' && url.searchParams.get('alt') === 'media') {
      res.writeHead(200, {
        'content-type': object.contentType,
        'content-length': object.data.length,
        // The client validates downloads against these hashes.
        'x-goog-hash': `crc32c=${object.crc32c},md5=${object.md5Hash}`,
        'x-goog-stored-content-encoding': 'identity',
        'x-goog-generation': String(object.generation),
      });
      res.end(object.data);
    } else if (req.method === 'GET') {
      sendJson(res, 200, resource(bucket, name, object));
    } else {
      sendError(res, 405, `${req.method} not supported`);
    }
  }

  /** objects.rewrite, finished in one call: the copy gets the source's bytes, hashes and metadata. */
  async function handleRewrite(req: IncomingMessage, res: ServerResponse, names: string[]) {
    const [bucket, name, destBucket, destName] = names;
    // Fields in the body override the source's metadata (the client sends at least '{}').
    const meta = JSON.parse((await readBody(req)).toString() || '{}') as { contentType?: string };
    if (!store.has(bucket) || !store.has(destBucket))
      return sendError(res, 404, 'The specified bucket does not exist.');
    const source = store.get(bucket)!.get(name);
    if (!source) return sendError(res, 404, `No such object: ${bucket}/${name}`);
    const object: StoredObject = {
      ...source,
      contentType: meta.contentType ?? source.contentType,
      generation: generation++,
      updated: new Date(),
    };
    store.get(destBucket)!.set(destName, object);
    const size = String(object.data.length);
    sendJson(res, 200, {
      kind: 'storage#rewriteResponse',
      totalBytesRewritten: size,
      objectSize: size,
      done: true,
      resource: resource(destBucket, destName, object),
    });
  }

  async function handleUpload(req: IncomingMessage, res: ServerResponse, url: URL, bucket: string) {
    const type = url.searchParams.get('uploadType');
    const uploadId = url.searchParams.get('upload_id');
    if (req.method === 'POST' && type === 'resumable') {
      const meta = JSON.parse((await readBody(req)).toString() || '{}') as {
        name?: string;
        contentType?: string;
      };
      const id = randomUUID();
      sessions.set(id, {
        bucket,
        name: url.searchParams.get('name') ?? meta.name ?? '',
        contentType:
          req.headers['x-upload-content-type']?.toString() ?? meta.contentType ?? 'application/octet-stream',
        chunks: [],
        received: 0,
      });
      const location = `http://${req.headers.host}/upload/storage/v1/b/${bucket}/o?uploadType=resumable&upload_id=${id}`;
      return res.writeHead(200, { location }).end();
    }
    if (req.method === 'PUT' && uploadId) return handleChunk(req, res, uploadId);
    if (req.method === 'POST' && type === 'multipart') {
      const { meta, data } = parseMultipart(req.headers['content-type'] ?? '', await readBody(req));
      return sendJson(
        res,
        200,
        commit(
          bucket,
          meta.name ?? url.searchParams.get('name') ?? '',
          meta.contentType ?? 'application/octet-stream',
          data,
        ),
      );
    }
    if (req.method === 'POST' && type === 'media') {
      const data = await readBody(req);
      return sendJson(
        res,
        200,
        commit(
          bucket,
          url.searchParams.get('name') ?? '',
          req.headers['content-type'] ?? 'application/octet-stream',
          data,
        ),
      );
    }
    sendError(res, 400, `unsupported upload ${req.method} ${type}`);
  }

  async function handleChunk(req: IncomingMessage, res: ServerResponse, id: string) {
    const session = sessions.get(id);
    if (!session) return sendError(res, 404, 'No such upload session');
    // Content-Range: 'bytes */total' (status query), 'bytes a-b/total|*' (a chunk) or 'bytes a-*/*' (the rest).
    const range = /^bytes (\*|(\d+)-(\d+|\*))\/(\d+|\*)$/.exec(req.headers['content-range'] ?? 'bytes 0-*/*');
    if (!range) return sendError(res, 400, `bad Content-Range ${req.headers['content-range']}`);
    // Read the whole request before touching the session: an aborted request adds nothing.
    const body = await readBody(req);
    if (range[1] !== '*') {
      const start = Number(range[2]);
      if (start !== session.received) return sendIncomplete(res, session);
      session.chunks.push(body);
      session.received += body.length;
    }
    const total = range[4] === '*' ? (range[3] === '*' ? session.received : undefined) : Number(range[4]);
    if (total === undefined || session.received < total) return sendIncomplete(res, session);
    sessions.delete(id);
    sendJson(
      res,
      200,
      commit(session.bucket, session.name, session.contentType, Buffer.concat(session.chunks)),
    );
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function resource(bucket: string, name: string, o: StoredObject) {
  return {
    kind: 'storage#object',
    id: `${bucket}/${name}/${o.generation}`,
    name,
    bucket,
    generation: String(o.generation),
    metageneration: '1',
    contentType: o.contentType,
    size: String(o.data.length),
    md5Hash: o.md5Hash,
    crc32c: o.crc32c,
    timeCreated: o.updated.toISOString(),
    updated: o.updated.toISOString(),
    etag: String(o.generation),
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
    req.on('aborted', () => reject(new Error('request aborted')));
  });
}

/** multipart/related: a JSON metadata part, then the media part. */
function parseMultipart(
  contentType: string,
  body: Buffer,
): { meta: { name?: string; contentType?: string }; data: Buffer } {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1];
  if (!boundary) throw new Error('multipart upload without boundary');
  const parts: Buffer[] = [];
  const delimiter = Buffer.from(`--${boundary}`);
  let at = body.indexOf(delimiter);
  while (at !== -1) {
    const next = body.indexOf(delimiter, at + delimiter.length);
    if (next === -1) break;
    const part = body.subarray(at + delimiter.length, next);
    const headerEnd = part.indexOf('\r\n\r\n');
    // Drop the part's headers and the CRLF that precedes the next delimiter.
    parts.push(part.subarray(headerEnd + 4, part.length - 2));
    at = next;
  }
  return { meta: JSON.parse(parts[0].toString()), data: parts[1] ?? Buffer.alloc(0) };
}

function sendIncomplete(res: ServerResponse, session: Session) {
  const headers: Record<string, string> =
    session.received > 0 ? { range: `bytes=0-${session.received - 1}` } : {};
  res.writeHead(308, headers).end();
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' }).end(JSON.stringify(body));
}

function sendError(res: ServerResponse, status: number, message: string) {
  sendJson(res, status, {
    error: { code: status, message, errors: [{ message, reason: status === 404 ? 'notFound' : 'invalid' }] },
  });
}
