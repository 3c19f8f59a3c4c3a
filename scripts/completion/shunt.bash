# bash completion for shunt: the words come from the binary's own command
# table (`shunt help --commands`, `shunt help --options VERB [SUB]`).
_shunt()
{
	local cur prev words cword
	_init_completion || return
	local verb="" sub="" i
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--pin-dir) ((i++)) ;;
		-*) ;;
		*) if [[ -z $verb ]]; then verb=${words[i]}; elif [[ -z $sub ]]; then sub=${words[i]}; fi ;;
		esac
	done
	case $prev in
	--pin-dir | --config) _filedir -d; return ;;
	--log) _filedir; return ;;
	--netns) COMPREPLY=($(compgen -W "$(ip netns list 2>/dev/null | cut -d' ' -f1)" -- "$cur")); return ;;
	esac
	if [[ -z $verb ]]; then
		COMPREPLY=($(compgen -W "$(shunt help --commands 2>/dev/null) --pin-dir --json --verbose --help --version" -- "$cur"))
		return
	fi
	case $verb in
	attach | detach) [[ $cur != -* ]] && { _filedir -d; return; } ;;
	esac
	COMPREPLY=($(compgen -W "$(shunt help --options "$verb" $sub 2>/dev/null)" -- "$cur"))
	[[ $verb == endpoint && $sub == load && $cur != -* ]] && _filedir json
} && complete -F _shunt shunt
