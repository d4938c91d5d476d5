package fakefs

// conferenceUsage is `api conference` without arguments, verbatim from
// esl-inbound3.txt.
const conferenceUsage = "<conf name> canvas-auto-clear <canvas_id> <true|false>\n" +
	"<conf name> count \n" +
	"<conf name> list [delim <string>]|[count]\n" +
	"<conf name> xml_list \n" +
	"<conf name> json_list [compact]\n" +
	"<conf name> energy <member_id|all|last|non_moderator> [<newval>]\n" +
	"<conf name> auto-energy <member_id|all|last|non_moderator> [<newval>]\n" +
	"<conf name> max-energy <member_id|all|last|non_moderator> [<newval>]\n" +
	"<conf name> agc <member_id|all|last|non_moderator> [<newval>]\n" +
	"<conf name> vid-canvas <member_id|all|last|non_moderator> [<newval>]\n" +
	"<conf name> vid-watching-canvas <member_id|all|last|non_moderator> [<newval>]\n" +
	"<conf name> vid-layer <member_id|all|last|non_moderator> [<newval>]\n" +
	"<conf name> volume_in <member_id|all|last|non_moderator> [<newval>]\n" +
	"<conf name> volume_out <member_id|all|last|non_moderator> [<newval>]\n" +
	"<conf name> position <member_id> <x>:<y>:<z>\n" +
	"<conf name> auto-3d-position [on|off]\n" +
	"<conf name> play <file_path> [async|<member_id> [nomux]]\n" +
	"<conf name> moh <file_path>|toggle|[on|off]\n" +
	"<conf name> pause [<member_id>]\n" +
	"<conf name> play_status [<member_id>]\n" +
	"<conf name> file_seek [+-]<val> [<member_id>]\n" +
	"<conf name> say <text>\n" +
	"<conf name> saymember <member_id> <text>\n" +
	"<conf name> cam \n" +
	"<conf name> stop <[current|all|async|last]> [<member_id>]\n" +
	"<conf name> dtmf <[member_id|all|last|non_moderator]> <digits>\n" +
	"<conf name> kick <[member_id|all|last|non_moderator]> [<optional sound file>]\n" +
	"<conf name> vid-flip <[member_id|all|last|non_moderator]>\n" +
	"<conf name> vid-border <[member_id|all|last|non_moderator]>\n" +
	"<conf name> hup <[member_id|all|last|non_moderator]>\n" +
	"<conf name> hold <[member_id|all]|last|non_moderator> [file]\n" +
	"<conf name> unhold <[member_id|all]|last|non_moderator>\n" +
	"<conf name> mute <[member_id|all]|last|non_moderator> [<quiet>]\n" +
	"<conf name> tmute <[member_id|all]|last|non_moderator> [<quiet>]\n" +
	"<conf name> unmute <[member_id|all]|last|non_moderator> [<quiet>]\n" +
	"<conf name> vmute <[member_id|all]|last|non_moderator> [<quiet>]\n" +
	"<conf name> tvmute <[member_id|all]|last|non_moderator> [<quiet>]\n" +
	"<conf name> vmute-snap <[member_id|all]|last|non_moderator>\n" +
	"<conf name> unvmute <[member_id|all]|last|non_moderator> [<quiet>]\n" +
	"<conf name> vblind <[member_id|all]|last|non_moderator> [<quiet>]\n" +
	"<conf name> tvblind <[member_id|all]|last|non_moderator> [<quiet>]\n" +
	"<conf name> unvblind <[member_id|all]|last|non_moderator> [<quiet>]\n" +
	"<conf name> deaf <[member_id|all]|last|non_moderator>\n" +
	"<conf name> undeaf <[member_id|all]|last|non_moderator>\n" +
	"<conf name> vid-filter <[member_id|all]|last|non_moderator> <string>\n" +
	"<conf name> relate <member_id>[,<member_id>] <other_member_id>[,<other_member_id>] [nospeak|nohear|clear]\n" +
	"<conf name> getvar <varname>\n" +
	"<conf name> setvar <varname> <value>\n" +
	"<conf name> lock \n" +
	"<conf name> unlock \n" +
	"<conf name> dial <endpoint_module_name>/<destination> <callerid number> <callerid name>\n" +
	"<conf name> bgdial <endpoint_module_name>/<destination> <callerid number> <callerid name>\n" +
	"<conf name> transfer <conference_name> <member id> [...<member id>]\n" +
	"<conf name> record <filename>\n" +
	"<conf name> chkrecord <confname>\n" +
	"<conf name> norecord <[filename|all]>\n" +
	"<conf name> pause <filename>\n" +
	"<conf name> resume <filename>\n" +
	"<conf name> recording [start|stop|check|pause|resume] [<filename>|all]\n" +
	"<conf name> exit_sound on|off|none|file <filename>\n" +
	"<conf name> enter_sound on|off|none|file <filename>\n" +
	"<conf name> pin <pin#>\n" +
	"<conf name> nopin \n" +
	"<conf name> get <parameter-name>\n" +
	"<conf name> set <max_members|sound_prefix|caller_id_name|caller_id_number|endconference_grace_time> <value>\n" +
	"<conf name> file-vol <vol#>\n" +
	"<conf name> floor <member_id|last>\n" +
	"<conf name> vid-floor <member_id|last> [force]\n" +
	"<conf name> vid-banner <member_id|last> <text>\n" +
	"<conf name> vid-mute-img <member_id|last> [<path>|clear]\n" +
	"<conf name> vid-logo-img <member_id|last> [<path>|clear]\n" +
	"<conf name> vid-codec-group <member_id|last> [<group>|clear]\n" +
	"<conf name> vid-res-id <member_id>|all <val>|clear [force]\n" +
	"<conf name> vid-role-id <member_id|last> <val>|clear\n" +
	"<conf name> get-uuid <member_id|last>\n" +
	"<conf name> clear-vid-floor \n" +
	"<conf name> vid-layout <layout name>|group <group name> [<canvas id>]\n" +
	"<conf name> vid-write-png <path>\n" +
	"<conf name> vid-fps <fps>\n" +
	"<conf name> vid-res <WxH>\n" +
	"<conf name> vid-fgimg <file> | clear [<canvas-id>]\n" +
	"<conf name> vid-bgimg <file> | clear [<canvas-id>]\n" +
	"<conf name> vid-bandwidth <BW>\n" +
	"<conf name> vid-personal [on|off]\n"
