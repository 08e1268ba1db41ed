import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { InputError, NotFoundError, TransientError } from '../errors.js';
import { writeFileAtomically } from './atomic-file.js';
import { assertKey, assertPrefix, compareKeys, keyProblem, objectNotFound } from './keys.js';
import type { Lake, LakeObject } from './lake.js';

/** Explicit client settings; each one left out comes from the standard AWS_* environment variables. */
export interface S3LakeOptions {
  /** S3-compatible endpoint such as `http://127.0.0.1:9000` (MinIO); path-style addressing is then used. */
  endpoint?: string;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

// Bucket naming rules of S3 (lowercase, digits, dots, hyphens; 3 to 63 characters).
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Error names that mean the credentials or the bucket policy refuse the request. */
const DENIED = new Set([
  'AccessDenied',
  'AllAccessDisabled',
  'CredentialsProviderError',
  'ExpiredToken',
  'InvalidAccessKeyId',
  'InvalidToken',
  'SignatureDoesNotMatch',
]);

/** Error names of throttling and timeouts: the same request may well succeed later. */
const RETRYABLE = new Set([
  'BandwidthLimitExceeded',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestTimeout',
  'RequestTimeoutException',
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TimeoutError',
  'TooManyRequestsException',
]);

/** Socket error codes the SDK itself treats as transient. */
const RETRYABLE_NETWORK_CODES = new Set([
  'EAI_AGAIN',
  'ECONNABORTED',
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ETIMEDOUT',
]);

/** The AWS SDK's S3 module, loaded with a lake's first request: processes with a folder lake never load it. */
type S3Sdk = typeof import('@aws-sdk/client-s3');

/** The SDK and the lake's client on it. */
interface S3Connection {
  sdk: S3Sdk;
  client: S3Client;
}

/** The fields of SDK service exceptions and Node socket errors that classify a failure. */
interface AwsErrorShape {
  name?: string;
  message?: string;
  code?: string;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/**
 * Splits `s3://bucket[/prefix]` into the bucket and a key prefix that is empty or ends with `/`.
 *
 * @throws InputError when the URL is not of that form or the bucket name is not a valid S3 name.
 */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]*)\/?(.*)$/i.exec(url);
  if (!match) throw new InputError(`not an S3 URL: "${url}" (expected s3://bucket[/prefix])`);
  const [, bucket, rawPrefix] = match;
  if (!BUCKET_NAME.test(bucket)) {
    throw new InputError(`invalid S3 bucket name "${bucket}" in "${url}"`);
  }
  const prefix = rawPrefix.replace(/\/+$/, '');
  const problem = prefix === '' ? undefined : keyProblem(prefix);
  if (problem !== undefined) throw new InputError(`invalid prefix "${prefix}" in "${url}": ${problem}`);
  return { bucket, prefix: prefix === '' ? '' : `${prefix}/` };
}

/**
 * The endpoint configured through the environment, looked up as the SDK does (service-specific
 * variable first, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS honoured). Read once here rather than
 * left to the SDK, which resolves it lazily on the first request: the endpoint and the
 * path-style decision that depends on it must come from the same moment.
 */
function configuredEndpoint(env: NodeJS.ProcessEnv): string | undefined {
  if (env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.toLowerCase() === 'true') return undefined;
  return env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
}

/**
 * A lake in an S3 bucket (AWS or S3-compatible such as MinIO), under an optional key prefix.
 * A single PutObject is atomic, so writes need no temp keys.
 */
export class S3Lake implements Lake {
  /** Canonical `s3://bucket` or `s3://bucket/prefix`, without a trailing slash. */
  readonly url: string;
  readonly #bucket: string;
  /** Key prefix of the lake root inside the bucket: empty or ending with `/`. */
  readonly #root: string;
  readonly #clientConfig: S3ClientConfig;
  #connection: Promise<S3Connection> | undefined;

  /**
   * @param url `s3://bucket[/prefix]`.
   * @param options Explicit endpoint, region and credentials; by default they come from
   *   AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, AWS_REGION / AWS_DEFAULT_REGION (else us-east-1)
   *   and the SDK's credential chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY first).
   */
  constructor(url: string, options: S3LakeOptions = {}) {
    const { bucket, prefix } = parseS3Url(url);
    this.#bucket = bucket;
    this.#root = prefix;
    this.url = `s3://${bucket}${prefix === '' ? '' : `/${prefix.slice(0, -1)}`}`;
    const endpoint = options.endpoint ?? configuredEndpoint(process.env);
    this.#clientConfig = {
      region: options.region ?? (process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1'),
      endpoint,
      credentials: options.credentials,
      // S3-compatible stores (MinIO, s3rver) serve buckets at /bucket, not at bucket.host.
      forcePathStyle: endpoint !== undefined,
      // With the us-east-1 default, a bucket elsewhere on AWS answers 301; follow it instead of failing.
      followRegionRedirects: true,
      // Since 3.729 the SDK checksums every request, sending streamed bodies as aws-chunked with a
      // trailer. S3-compatible stores that predate this (s3rver, older MinIO) store the chunk
      // framing as object bytes, silently corrupting putFile. Checksum only where S3 demands it.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    };
  }

  async list(prefix: string): Promise<LakeObject[]> {
    const fullPrefix = this.#root + assertPrefix(prefix);
    const objects: LakeObject[] = [];
    await this.#call('list', fullPrefix, async ({ sdk, client }) => {
      const pages = sdk.paginateListObjectsV2({ client }, { Bucket: this.#bucket, Prefix: fullPrefix });
      for await (const page of pages) {
        for (const object of page.Contents ?? []) {
          if (object.Key === undefined) continue;
          objects.push({ key: object.Key.slice(this.#root.length), size: object.Size ?? 0 });
        }
      }
    });
    // S3 sorts by UTF-8 bytes; re-sort so both adapters agree on keys outside the BMP.
    return objects.sort((a, b) => compareKeys(a.key, b.key));
  }

  async get(key: string): Promise<Buffer> {
    const s3Key = this.#s3Key(key);
    return this.#call('get', s3Key, async ({ sdk, client }) => {
      const response = await client.send(new sdk.GetObjectCommand({ Bucket: this.#bucket, Key: s3Key }));
      const bytes = await response.Body!.transformToByteArray();
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    });
  }

  async put(key: string, body: Buffer | string): Promise<void> {
    const s3Key = this.#s3Key(key);
    await this.#call('put', s3Key, ({ sdk, client }) =>
      // Explicit length: the SDK cannot measure an empty string and warns about unknown-length streams.
      client.send(
        new sdk.PutObjectCommand({ Bucket: this.#bucket, Key: s3Key, Body: body, ContentLength: Buffer.byteLength(body) }),
      ),
    );
  }

  async putFile(localPath: string, key: string): Promise<void> {
    const s3Key = this.#s3Key(key);
    // A missing local file is a local error, reported as such rather than as an S3 failure.
    const { size } = await stat(localPath);
    await this.#call('putFile', s3Key, ({ sdk, client }) =>
      client.send(
        new sdk.PutObjectCommand({
          Bucket: this.#bucket,
          Key: s3Key,
          Body: createReadStream(localPath),
          // Without it the SDK would buffer the stream to learn its length.
          ContentLength: size,
        }),
      ),
    );
  }

  async getFile(key: string, localPath: string): Promise<void> {
    const s3Key = this.#s3Key(key);
    await this.#call('getFile', s3Key, async ({ sdk, client }) => {
      // Request first, so that a missing object leaves no folders or temp files behind.
      const response = await client.send(new sdk.GetObjectCommand({ Bucket: this.#bucket, Key: s3Key }));
      const body = response.Body as Readable;
      try {
        await writeFileAtomically(path.resolve(localPath), (tempPath) => pipeline(body, createWriteStream(tempPath)));
      } finally {
        // Frees the socket when the local side failed before the body was read.
        body.destroy();
      }
    });
  }

  async exists(key: string): Promise<boolean> {
    const s3Key = this.#s3Key(key);
    try {
      await this.#call('exists', s3Key, ({ sdk, client }) =>
        client.send(new sdk.HeadObjectCommand({ Bucket: this.#bucket, Key: s3Key })),
      );
      return true;
    } catch (error) {
      // HEAD responses have no body, so a missing bucket also reads as a plain 404 here.
      if (error instanceof NotFoundError) return false;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    const s3Key = this.#s3Key(key);
    // S3 answers 204 for a missing key too, so deleting twice is not an error.
    await this.#call('delete', s3Key, ({ sdk, client }) =>
      client.send(new sdk.DeleteObjectCommand({ Bucket: this.#bucket, Key: s3Key })),
    );
  }

  localPath(_key: string): undefined {
    return undefined;
  }

  async close(): Promise<void> {
    (await this.#connection?.catch(() => undefined))?.client.destroy();
  }

  #s3Key(key: string): string {
    return this.#root + assertKey(key);
  }

  /** Runs one S3 interaction (connecting first, once), turning whatever it throws into one of detour's error types. */
  async #call<T>(action: string, s3Key: string, run: (connection: S3Connection) => Promise<T>): Promise<T> {
    this.#connection ??= import('@aws-sdk/client-s3').then((sdk) => ({ sdk, client: new sdk.S3Client(this.#clientConfig) }));
    try {
      return await run(await this.#connection);
    } catch (error) {
      throw this.#translate(error, action, s3Key);
    }
  }

  /**
   * One line naming the bucket and key: NotFoundError for a missing object, InputError for a
   * missing bucket or refused credentials (configuration to fix, never retried), TransientError
   * for throttling, 5xx and dropped connections, a plain Error for the rest.
   */
  #translate(error: unknown, action: string, s3Key: string): Error {
    const { name = '', message = '', code, $retryable, $metadata } = (error ?? {}) as AwsErrorShape;
    const status = $metadata?.httpStatusCode;
    const target = `s3://${this.#bucket}/${s3Key}`;
    const reason = `${code ?? name}${message && message !== code ? `: ${message}` : ''}`.replace(/\s*\n\s*/g, ' ');
    if (name === 'NoSuchKey' || (name === 'NotFound' && status === 404)) {
      return objectNotFound(s3Key.slice(this.#root.length), this.url, error);
    }
    if (name === 'NoSuchBucket') {
      return new InputError(`S3 bucket "${this.#bucket}" does not exist (${action} ${target})`, { cause: error });
    }
    if (DENIED.has(name) || status === 403) {
      return new InputError(`S3 ${action} ${target} was refused, check the AWS credentials and bucket policy (${reason})`, {
        cause: error,
      });
    }
    const retryable =
      Boolean($retryable) ||
      RETRYABLE.has(name) ||
      RETRYABLE_NETWORK_CODES.has(code ?? '') ||
      status === 429 ||
      (status !== undefined && status >= 500);
    if (retryable) return new TransientError(`S3 ${action} ${target} failed, worth retrying (${reason})`, { cause: error });
    return new Error(`S3 ${action} ${target} failed (${reason})`, { cause: error });
  }
}
