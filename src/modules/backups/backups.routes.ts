import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Context } from '../../context.js';
import { errors, TableParams } from '../../http/schemas.js';
import { backupTable, listBackups, restoreTable } from './backups.service.js';

export const BackupQuery = Type.Object(
  {
    codec: Type.Union([Type.Literal('deflate'), Type.Literal('null'), Type.Literal('snappy')], {
      default: 'deflate',
      description: 'Avro block compression',
    }),
  },
  { additionalProperties: false },
);

export const BackupResponse = Type.Object({
  table: Type.String(),
  key: Type.String({ description: 'The latest backup: database/{table}/backup/{table}.avro' }),
  history_key: Type.String({
    description: 'The same file, kept as database/{table}/backup/{table}-{stamp}.avro',
  }),
  rows: Type.Integer(),
  bytes: Type.Integer(),
  codec: Type.String(),
  sha256: Type.String({ description: 'Of the file, hex' }),
  created_at: Type.String({ description: 'UTC ISO time of the snapshot; also in the file header' }),
});

export const BackupsResponse = Type.Object({
  table: Type.String(),
  backups: Type.Array(
    Type.Object({
      key: Type.String(),
      rows: Type.Union([Type.Integer(), Type.Null()], { description: 'null when the header cannot be read' }),
      bytes: Type.Integer(),
      created_at: Type.String(),
    }),
  ),
});

export const RestoreQuery = Type.Object(
  {
    key: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1024,
        description: 'A history file under database/{table}/backup/; default: the latest backup',
      }),
    ),
  },
  { additionalProperties: false },
);

export const RestoreResponse = Type.Object({
  table: Type.String(),
  key: Type.String(),
  rows_restored: Type.Integer(),
  duration_ms: Type.Integer(),
});

export const backupsRoutes: FastifyPluginAsyncTypebox<{ ctx: Context }> = async (app, { ctx }) => {
  app.post(
    '/backup_table/:table',
    {
      schema: {
        summary:
          'Back the table up to database/{table}/backup/{table}.avro (one snapshot, Avro), keeping a history copy',
        tags: ['backups'],
        params: TableParams,
        querystring: BackupQuery,
        response: { 200: BackupResponse, ...errors(400, 401, 404, 409, 503) },
      },
    },
    async (request) => backupTable(ctx, request.params.table, { codec: request.query.codec }),
  );

  app.get(
    '/backups/:table',
    {
      schema: {
        summary: "The table's backup history, newest first",
        tags: ['backups'],
        params: TableParams,
        response: { 200: BackupsResponse, ...errors(404, 503) },
      },
    },
    async (request) => ({
      table: request.params.table,
      backups: await listBackups(ctx, request.params.table),
    }),
  );

  app.post(
    '/restore_backup/:table',
    {
      schema: {
        summary: "Replace the table's rows with a backup's, atomically (all rows or none)",
        tags: ['backups'],
        params: TableParams,
        querystring: RestoreQuery,
        response: { 200: RestoreResponse, ...errors(400, 401, 404, 409, 422, 503) },
      },
    },
    async (request) => restoreTable(ctx, request.params.table, { key: request.query.key }),
  );
};
