// Every metadata table's owner, for a Store to hold together. Each owner
// holds all the SQL of its table; nothing else in lib/ spells a table name
// but lib/meta/schema.cc and the journal (lib/journal/) for its own four
// (scripts/check-structure checks). Not thread-safe: one Db per thread.
#pragma once

#include "meta/audit_log_table.h"
#include "meta/cold_objects_table.h"
#include "meta/config_table.h"
#include "meta/hot_free_table.h"
#include "meta/index_calibration_table.h"
#include "meta/index_generations_table.h"
#include "meta/memories_table.h"
#include "meta/metrics_table.h"
#include "meta/restore_queue_table.h"
#include "meta/shards_table.h"

namespace aether {

struct Tables {
  explicit Tables(Db* db)
      : memories(db),
        hot_free(db),
        shards(db),
        restore_queue(db),
        config(db),
        audit_log(db),
        generations(db),
        calibration(db),
        metrics(db),
        cold_objects(db) {}
  MemoriesTable memories;
  HotFreeTable hot_free;
  ShardsTable shards;
  RestoreQueueTable restore_queue;
  ConfigTable config;
  AuditLogTable audit_log;
  IndexGenerationsTable generations;
  IndexCalibrationTable calibration;
  MetricsTable metrics;
  ColdObjectsTable cold_objects;
};

}  // namespace aether
