"""The RPC handlers, one module per kind of object, and THE dispatch table (payload type -> handler).

Each handler takes (ctx, caller id, decoded message) and returns the reply payload; hpcq.server.api
verifies the signature and runs it under the store lock inside one transaction."""

from __future__ import annotations

from hpcq.server.handlers import (
    attributes,
    blueprints,
    channels,
    colonies,
    crons,
    executors,
    files,
    graphs,
    processes,
    stats,
)

HANDLERS = {
    # colonies and users
    "addcolonymsg": colonies.add_colony,
    "removecolonymsg": colonies.remove_colony,
    "getcoloniesmsg": colonies.get_colonies,
    "getcolonymsg": colonies.get_colony_msg,
    "addusermsg": colonies.add_user,
    "getusersmsg": colonies.get_users,
    "getusermsg": colonies.get_user,
    "removeusermsg": colonies.remove_user,
    # executors and their functions
    "addexecutormsg": executors.add_executor,
    "approveexecutormsg": executors.approve_executor,
    "rejectexecutormsg": executors.reject_executor,
    "removeexecutormsg": executors.remove_executor,
    "getexecutorsmsg": executors.get_executors,
    "getexecutormsg": executors.get_executor,
    "addfunctionmsg": executors.add_function,
    "getfunctionsmsg": executors.get_functions,
    "removefunctionmsg": executors.remove_function,
    # processes (assignprocessmsg is the long-poll in hpcq.server.api, see handlers.assign)
    "submitfuncspecmsg": processes.submit,
    "getprocessmsg": processes.get,
    "getprocessesmsg": processes.list_,
    "removeprocessmsg": processes.remove,
    "removeallprocessesmsg": processes.remove_all,
    "closesuccessfulmsg": processes.close_successful,
    "closefailedmsg": processes.close_failed,
    "setoutputmsg": processes.set_output,
    "cancelprocessmsg": processes.cancel,
    # workflows
    "submitworkflowspecmsg": graphs.submit_workflow,
    "getprocessgraphmsg": graphs.get_graph,
    "getprocessgraphsmsg": graphs.list_graphs,
    "removeprocessgraphmsg": graphs.remove_graph,
    "removeallprocessgraphsmsg": graphs.remove_all_graphs,
    "addchildmsg": graphs.add_child,
    "cancelprocessgraphmsg": graphs.cancel_graph,
    # attributes and logs
    "addattributemsg": attributes.add_attribute,
    "getattributemsg": attributes.get_attribute,
    "addlogmsg": attributes.add_log,
    "getlogsmsg": attributes.get_logs,
    "getcolonystatsmsg": stats.colony_stats,
    # file metadata and snapshots
    "addfilemsg": files.add_file,
    "getfilemsg": files.get_file,
    "getfilesmsg": files.get_files,
    "getfilelabelsmsg": files.get_file_labels,
    "removefilemsg": files.remove_file,
    "createsnapshotmsg": files.create_snapshot,
    "getsnapshotmsg": files.get_snapshot,
    "getsnapshotsmsg": files.get_snapshots,
    "removesnapshotmsg": files.remove_snapshot,
    # crons and generators (spawn workflows)
    "addcronmsg": crons.add_cron,
    "getcronmsg": crons.get_cron,
    "getcronsmsg": crons.get_crons,
    "removecronmsg": crons.remove_cron,
    "runcronmsg": crons.run_cron,
    "addgeneratormsg": crons.add_generator,
    "getgeneratormsg": crons.get_generator,
    "getgeneratorsmsg": crons.get_generators,
    "removegeneratormsg": crons.remove_generator,
    "packgeneratormsg": crons.pack_generator,
    "resolvegeneratormsg": crons.resolve_generator,
    # channels (subscribechannelmsg is the websocket, hpcq.server.pubsub)
    "channelappendmsg": channels.append,
    "channelreadmsg": channels.read,
    # blueprints
    "addblueprintdefinitionmsg": blueprints.add_definition,
    "getblueprintdefinitionmsg": blueprints.get_definition,
    "getblueprintdefinitionsmsg": blueprints.get_definitions,
    "removeblueprintdefinitionmsg": blueprints.remove_definition,
    "addblueprintmsg": blueprints.add_blueprint,
    "getblueprintmsg": blueprints.get_blueprint,
    "getblueprintsmsg": blueprints.get_blueprints,
    "updateblueprintmsg": blueprints.update_blueprint,
    "removeblueprintmsg": blueprints.remove_blueprint,
    "updateblueprintstatusmsg": blueprints.update_status,
    "reconcileblueprintmsg": blueprints.reconcile,
    "getblueprinthistorymsg": blueprints.get_history,
}
