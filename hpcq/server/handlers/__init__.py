"""The RPC handlers, one module per kind of object, and THE dispatch table (payload type -> handler).

Each handler takes (ctx, caller id, decoded message) and returns the reply payload; hpcq.server.api
verifies the signature and runs it under the store lock inside one transaction."""

from __future__ import annotations

from hpcq.server.handlers import (
    attributes,
    colonies,
    executors,
    files,
    graphs,
    processes,
    stats,
)

HANDLERS = {
    # colonies and users
    "addcolonymsg": colonies.add_colony, "removecolonymsg": colonies.remove_colony,
    "getcoloniesmsg": colonies.get_colonies, "getcolonymsg": colonies.get_colony_msg,
    "addusermsg": colonies.add_user, "getusersmsg": colonies.get_users, "getusermsg": colonies.get_user,
    "removeusermsg": colonies.remove_user,
    # executors and their functions
    "addexecutormsg": executors.add_executor, "approveexecutormsg": executors.approve_executor,
    "rejectexecutormsg": executors.reject_executor, "removeexecutormsg": executors.remove_executor,
    "getexecutorsmsg": executors.get_executors, "getexecutormsg": executors.get_executor,
    "addfunctionmsg": executors.add_function, "getfunctionsmsg": executors.get_functions,
    "removefunctionmsg": executors.remove_function,
    # processes (assignprocessmsg is the long-poll in hpcq.server.api, see handlers.assign)
    "submitfuncspecmsg": processes.submit, "getprocessmsg": processes.get, "getprocessesmsg": processes.list_,
    "removeprocessmsg": processes.remove, "removeallprocessesmsg": processes.remove_all,
    "closesuccessfulmsg": processes.close_successful, "closefailedmsg": processes.close_failed,
    "setoutputmsg": processes.set_output, "cancelprocessmsg": processes.cancel,
    # workflows
    "submitworkflowspecmsg": graphs.submit_workflow, "getprocessgraphmsg": graphs.get_graph,
    "getprocessgraphsmsg": graphs.list_graphs, "removeprocessgraphmsg": graphs.remove_graph,
    "removeallprocessgraphsmsg": graphs.remove_all_graphs, "addchildmsg": graphs.add_child,
    "cancelprocessgraphmsg": graphs.cancel_graph,
    # attributes and logs
    "addattributemsg": attributes.add_attribute, "getattributemsg": attributes.get_attribute,
    "addlogmsg": attributes.add_log, "getlogsmsg": attributes.get_logs,
    "getcolonystatsmsg": stats.colony_stats,
    # file metadata and snapshots
    "addfilemsg": files.add_file, "getfilemsg": files.get_file, "getfilesmsg": files.get_files,
    "getfilelabelsmsg": files.get_file_labels, "removefilemsg": files.remove_file,
    "createsnapshotmsg": files.create_snapshot, "getsnapshotmsg": files.get_snapshot,
    "getsnapshotsmsg": files.get_snapshots, "removesnapshotmsg": files.remove_snapshot,
}
