import { type Kysely, type Migration, type MigrationProvider, Migrator } from 'kysely'

// @NOTE Migrations are code in a static map, applied in key order. Never edit one that has
// shipped: add the next.
const migrations: Record<string, Migration> = {
  '0001_core': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('account')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('widget_id', 'text', (c) => c.notNull().unique())
        .addColumn('last_seq', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema
        .createTable('api_key')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('account.id'))
        .addColumn('hash', 'text', (c) => c.notNull().unique())
        .addColumn('prefix', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('revoked_at', 'bigint')
        .execute()
      await db.schema
        .createTable('agent')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('account.id'))
        .addColumn('email', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('userpic', 'text')
        .addColumn('password_hash', 'text')
        .addColumn('is_dummy', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('agent_account_email', ['account_id', 'email'])
        .execute()
      await db.schema
        .createTable('agent_group')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('account.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema
        .createTable('group_member')
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('group_id', 'text', (c) => c.notNull().references('agent_group.id'))
        .addColumn('agent_id', 'text', (c) => c.notNull().references('agent.id'))
        .addPrimaryKeyConstraint('group_member_pk', ['group_id', 'agent_id'])
        .execute()
      await db.schema
        .createTable('visitor')
        .addColumn('account_id', 'text', (c) => c.notNull().references('account.id'))
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('group_id', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('visitor_pk', ['account_id', 'id'])
        .execute()
      await db.schema
        .createTable('conversation')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('visitor_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('last_activity_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('conversation_visitor', ['account_id', 'visitor_id'])
        .execute()
      await db.schema
        .createTable('message')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('conversation_id', 'text', (c) => c.notNull().references('conversation.id'))
        .addColumn('visitor_id', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('text', 'text', (c) => c.notNull())
        .addColumn('agent_id', 'text')
        .addColumn('agent_name', 'text')
        .addColumn('agent_userpic', 'text')
        .addColumn('group_id', 'text')
        .addColumn('is_pushed', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('is_trigger', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('received_from', 'text')
        .addColumn('file', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('edited_at', 'bigint')
        .addColumn('deleted_at', 'bigint')
        .execute()
      await db.schema
        .createIndex('message_conversation')
        .on('message')
        .columns(['conversation_id', 'created_at'])
        .execute()
      await db.schema
        .createTable('event')
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addColumn('conversation_id', 'text')
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('event_pk', ['account_id', 'seq'])
        .execute()
      await db.schema
        .createTable('idempotency_key')
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('scope', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('request_hash', 'text', (c) => c.notNull())
        .addColumn('response', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('idempotency_key_pk', ['account_id', 'scope', 'key'])
        .execute()
      await db.schema
        .createIndex('idempotency_key_created')
        .on('idempotency_key')
        .column('created_at')
        .execute()
    },
  },
  '0002_realtime': {
    async up(db: Kysely<any>) {
      // Secrets are filled in on first use (services/widget.ts): a migration has no business
      // minting them.
      await db.schema.alterTable('account').addColumn('token_secret', 'text').execute()
      await db.schema.alterTable('account').addColumn('identity_secret', 'text').execute()
      await db.schema
        .alterTable('account')
        .addColumn('verified_binding', 'integer', (c) => c.notNull().defaultTo(0))
        .execute()
      await db.schema
        .alterTable('account')
        .addColumn('allowed_origins', 'text', (c) => c.notNull().defaultTo('[]'))
        .execute()
      await db.schema.alterTable('visitor').addColumn('attributes', 'text').execute()
      await db.schema.alterTable('visitor').addColumn('browser', 'text').execute()
      await db.schema.alterTable('visitor').addColumn('last_page', 'text').execute()
      await db.schema.alterTable('conversation').addColumn('start_page', 'text').execute()
      // A reconnecting widget replays its own conversation's events after a seq.
      await db.schema
        .createIndex('event_conversation')
        .on('event')
        .columns(['account_id', 'conversation_id', 'seq'])
        .execute()
    },
  },
  '0003_webhooks': {
    async up(db: Kysely<any>) {
      // Existing conversations count as opened at the beginning of time and not started, so
      // their next visitor or agent message is a conversationStarted.
      await db.schema
        .alterTable('conversation')
        .addColumn('opened_at', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute()
      await db.schema.alterTable('conversation').addColumn('started_at', 'bigint').execute()
      // The idle sweep looks for open conversations by last activity.
      await db.schema
        .createIndex('conversation_idle')
        .on('conversation')
        .columns(['status', 'last_activity_at'])
        .execute()
      await db.schema
        .createTable('webhook_endpoint')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('account.id'))
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('events', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('disabled_reason', 'text')
        .addColumn('secret', 'text', (c) => c.notNull())
        .addColumn('previous_secret', 'text')
        .addColumn('previous_secret_expires_at', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema.createIndex('webhook_endpoint_account').on('webhook_endpoint').column('account_id').execute()
      await db.schema
        .createTable('webhook_delivery')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('endpoint_id', 'text', (c) => c.notNull().references('webhook_endpoint.id').onDelete('cascade'))
        .addColumn('conversation_id', 'text')
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addColumn('event', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('tries', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_at', 'bigint', (c) => c.notNull())
        .addColumn('leased_until', 'bigint')
        .addColumn('last_status', 'integer')
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('delivered_at', 'bigint')
        // The attempts live in their delivery's row: recording one is one UPDATE, not an insert more.
        .addColumn('attempt_log', 'text', (c) => c.notNull().defaultTo('[]'))
        .execute()
      // The worker's scan for due deliveries, and the purge of finished ones.
      await db.schema.createIndex('webhook_delivery_due').on('webhook_delivery').columns(['status', 'next_at']).execute()
      // Per-conversation order (is an earlier one pending?) and the fragment a new message joins:
      // pending deliveries of a conversation by seq, however many were delivered before them.
      await db.schema
        .createIndex('webhook_delivery_conversation')
        .on('webhook_delivery')
        .columns(['endpoint_id', 'conversation_id', 'status', 'seq'])
        .execute()
      await db.schema
        .createIndex('webhook_delivery_endpoint')
        .on('webhook_delivery')
        .columns(['endpoint_id', 'created_at'])
        .execute()
    },
  },
}

const provider: MigrationProvider = {
  getMigrations: async () => migrations,
}

export async function migrateToLatest(db: Kysely<any>): Promise<void> {
  const migrator = new Migrator({ db, provider })
  const { error, results } = await migrator.migrateToLatest()
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')
    throw new Error(`migration ${failed?.migrationName ?? '?'} failed: ${String(error)}`, { cause: error })
  }
}
