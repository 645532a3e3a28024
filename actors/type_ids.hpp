// Every atom and message type of the core, in one CAF type-id block (the
// CAF 0.17.5+ idiom); the gateway's own atoms follow in a block of their
// own (gateway/type_ids.hpp). Each node registers the block at start
// (actor_system_config::add_message_types<caf::id_block::herald>()), so the
// serialisable types can cross nodes. Atom names are at most 10 characters.
// Each atom has one meaning: an actor that routes a request on (the registry
// to a channel, the projection manager to a projection) keeps its atom.
//
// Atoms and who takes them:
// - catch_up_atom: a paced piece of a subscriber's catch-up (channel ->
//   subscriber, answered when taken);
// - applied_atom: "answer once this projection has applied that position";
// - unsubscribe_atom: "drop this subscriber" (to a channel);
// - left_atom: "a subscriber left this channel" (to the registry, which may
//   stop the channel);
// - status_atom: a projection's status, asked by operators;
// - file_status_atom: a projection telling query actors whether its file is
//   faulted;
// - tick_atom: a timer an actor set for itself fired;
// - derive_atom: a stream processor's derived events and checkpoint, to the
//   journal (one transaction);
// - wait_for_atom: hands a processor the projection manager it waits on.
#pragma once

#include "actors/messages.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/type_id.hpp>

// Local-only: they hold shared pointers to frames in this process.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(herald::actors::delivery)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(herald::actors::frame_ptr)

CAF_BEGIN_TYPE_ID_BLOCK(herald, caf::first_custom_type_id)

  // Journal
  CAF_ADD_ATOM(herald, herald::actors, append_atom, "h_append")
  CAF_ADD_ATOM(herald, herald::actors, committed_atom, "h_commit")
  CAF_ADD_ATOM(herald, herald::actors, listen_atom, "h_listen")
  CAF_ADD_ATOM(herald, herald::actors, flush_atom, "h_flush")
  CAF_ADD_ATOM(herald, herald::actors, head_atom, "h_head")
  CAF_ADD_ATOM(herald, herald::actors, read_stream_atom, "h_rstream")
  CAF_ADD_ATOM(herald, herald::actors, read_all_atom, "h_rall")
  // Channels
  CAF_ADD_ATOM(herald, herald::actors, subscribe_atom, "h_sub")
  CAF_ADD_ATOM(herald, herald::actors, unsubscribe_atom, "h_unsub")
  CAF_ADD_ATOM(herald, herald::actors, left_atom, "h_left")
  CAF_ADD_ATOM(herald, herald::actors, deliver_atom, "h_deliver")
  CAF_ADD_ATOM(herald, herald::actors, resync_atom, "h_resync")
  CAF_ADD_ATOM(herald, herald::actors, presence_atom, "h_presence")
  CAF_ADD_ATOM(herald, herald::actors, idle_atom, "h_idle")
  CAF_ADD_ATOM(herald, herald::actors, stop_atom, "h_stop")
  // Projections and queries
  CAF_ADD_ATOM(herald, herald::actors, status_atom, "h_status")
  CAF_ADD_ATOM(herald, herald::actors, rebuild_atom, "h_rebuild")
  CAF_ADD_ATOM(herald, herald::actors, retry_atom, "h_retry")
  CAF_ADD_ATOM(herald, herald::actors, skip_atom, "h_skip")
  CAF_ADD_ATOM(herald, herald::actors, catch_up_atom, "h_catchup")
  CAF_ADD_ATOM(herald, herald::actors, applied_atom, "h_applied")
  CAF_ADD_ATOM(herald, herald::actors, step_atom, "h_step")
  CAF_ADD_ATOM(herald, herald::actors, snapshot_atom, "h_snap")
  CAF_ADD_ATOM(herald, herald::actors, file_atom, "h_file")
  CAF_ADD_ATOM(herald, herald::actors, file_status_atom, "h_fstatus")
  CAF_ADD_ATOM(herald, herald::actors, query_atom, "h_query")
  // Stream processors
  CAF_ADD_ATOM(herald, herald::actors, derive_atom, "h_derive")
  CAF_ADD_ATOM(herald, herald::actors, wait_for_atom, "h_waitfor")
  // Every actor
  CAF_ADD_ATOM(herald, herald::actors, stats_atom, "h_stats")
  CAF_ADD_ATOM(herald, herald::actors, tick_atom, "h_tick")

  CAF_ADD_TYPE_ID(herald, (herald::storage::journal_position))
  CAF_ADD_TYPE_ID(herald, (herald::storage::stream_version))
  CAF_ADD_TYPE_ID(herald, (herald::storage::expected_version))
  CAF_ADD_TYPE_ID(herald, (herald::storage::new_event))
  CAF_ADD_TYPE_ID(herald, (herald::storage::append_request))
  CAF_ADD_TYPE_ID(herald, (herald::storage::append_result))
  CAF_ADD_TYPE_ID(herald, (herald::storage::recorded_event))
  CAF_ADD_TYPE_ID(herald, (herald::actors::event_batch))
  CAF_ADD_TYPE_ID(herald, (herald::actors::stream_events))
  CAF_ADD_TYPE_ID(herald, (herald::actors::client_info))
  CAF_ADD_TYPE_ID(herald, (herald::actors::actor_stats))
  CAF_ADD_TYPE_ID(herald, (std::vector<herald::actors::actor_stats>) )
  CAF_ADD_TYPE_ID(herald, (herald::actors::subscribe_request))
  CAF_ADD_TYPE_ID(herald, (herald::actors::subscribe_reply))
  CAF_ADD_TYPE_ID(herald, (herald::actors::presence_reply))
  CAF_ADD_TYPE_ID(herald, (herald::actors::projection_status))
  CAF_ADD_TYPE_ID(herald, (std::vector<herald::actors::projection_status>) )
  CAF_ADD_TYPE_ID(herald, (herald::actors::query_request))
  CAF_ADD_TYPE_ID(herald, (herald::actors::query_result))
  CAF_ADD_TYPE_ID(herald, (herald::actors::resync))
  CAF_ADD_TYPE_ID(herald, (herald::storage::processor_commit))
  CAF_ADD_TYPE_ID(herald, (herald::storage::processor_commit_result))
  CAF_ADD_TYPE_ID(herald, (herald::actors::processor_status))
  CAF_ADD_TYPE_ID(herald, (std::vector<herald::actors::processor_status>) )

CAF_END_TYPE_ID_BLOCK(herald)
